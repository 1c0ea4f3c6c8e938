"""The control API under ``/_sim``: inspect sends and counters, change config and faults, reset.

Changes are merges: ``PUT /_sim/config {"rate_per_second": 20}`` changes that field only.
``DELETE /_sim/faults`` turns every fault off; ``POST /_sim/reset`` brings back the faults of
the settings.
"""

from typing import Annotated, Any

from litestar import Response, delete, get, post, put
from litestar.exceptions import ClientException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_502_BAD_GATEWAY
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from disparo_simulator.outcomes import Dialect
from disparo_simulator.phones import wa_id
from disparo_simulator.provider import SimulatedProvider


class InboundMessage(BaseModel):
    """A simulated doctor's message to one of our numbers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dialect: Dialect
    sender: str = Field(min_length=1, description="Evolution instance or Cloud phone number id.")
    from_number: str = Field(alias="from", description="The doctor's number, e.g. 5511987654321.")
    text: str = Field(min_length=1)


def control_routes(provider: SimulatedProvider) -> list[HTTPRouteHandler]:
    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/_sim/sends")
    async def sends(
        sender: FromQuery[str | None] = None,
        recipient: FromQuery[str | None] = None,
        message_id: FromQuery[str | None] = None,
        limit: Annotated[int | None, QueryParameter(ge=0)] = None,
    ) -> list[dict[str, object]]:
        """Accepted sends, oldest first; ``limit`` keeps the newest ones. Empty filters
        (``?sender=``) are ignored, as a form would send them."""
        found = provider.log.find(sender or None, recipient or None, message_id or None, limit)
        return [send.as_json() for send in found]

    @get("/_sim/stats")
    async def stats() -> dict[str, object]:
        return provider.stats_json()

    @get("/_sim/permanent-failures")
    async def permanent_failures() -> dict[str, list[str]]:
        """Message ids refused for good by ``permanent_rate``; their retries fail the same way."""
        return {"message_ids": sorted(provider.faults.permanent_message_ids)}

    @post("/_sim/reset", status_code=204)
    async def reset() -> None:
        provider.reset()

    @get("/_sim/config")
    async def read_config() -> dict[str, Any]:
        return provider.config.model_dump(mode="json")

    @put("/_sim/config")
    async def change_config(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        try:
            return provider.configure(data).model_dump(mode="json")
        except ValidationError as error:
            raise _invalid("invalid simulator config", error) from error

    @get("/_sim/faults")
    async def read_faults() -> dict[str, Any]:
        return provider.faults.config.model_dump(mode="json")

    @put("/_sim/faults")
    async def change_faults(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        try:
            return provider.change_faults(data).model_dump(mode="json")
        except ValidationError as error:
            raise _invalid("invalid faults", error) from error

    @delete("/_sim/faults", status_code=200)
    async def clear_faults() -> dict[str, Any]:
        return provider.clear_faults().model_dump(mode="json")

    @post("/_sim/inbound", status_code=200)
    async def inbound(data: JSONBody[InboundMessage]) -> Response[dict[str, object]]:
        """Make a doctor write to one of our numbers now, through the dialect's webhook."""
        from_number = wa_id(data.from_number)
        if from_number is None:
            raise ValidationException(f"from: {data.from_number!r} is not a phone number")
        if provider.poster.url_for(data.dialect) is None:
            raise ClientException(
                f"no webhook URL configured for {data.dialect.value}",
                status_code=HTTP_409_CONFLICT,
            )
        event = provider.lifecycle.inbound_event(data.dialect, data.sender, from_number, data.text)
        posted = await provider.poster.post(data.dialect, [event])
        body: dict[str, object] = {
            "posted": posted,
            "provider_message_id": event.provider_message_id,
        }
        return Response(body, status_code=200 if posted else HTTP_502_BAD_GATEWAY)

    return [
        health,
        sends,
        stats,
        permanent_failures,
        reset,
        read_config,
        change_config,
        read_faults,
        change_faults,
        clear_faults,
        inbound,
    ]


def _invalid(detail: str, error: ValidationError) -> ValidationException:
    problems = [
        {"field": ".".join(str(part) for part in problem["loc"]), "reason": problem["msg"]}
        for problem in error.errors()
    ]
    return ValidationException(detail, extra=problems)
