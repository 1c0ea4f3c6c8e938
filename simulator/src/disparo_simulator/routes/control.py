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

from disparo_simulator.dialects import cloud
from disparo_simulator.outcomes import Dialect
from disparo_simulator.phones import wa_id
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.templates import TemplateSpec, TemplateStatus


class InboundMessage(BaseModel):
    """A simulated doctor's message to one of our numbers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dialect: Dialect
    sender: str = Field(min_length=1, description="Evolution instance or Cloud phone number id.")
    from_number: str = Field(alias="from", description="The doctor's number, e.g. 5511987654321.")
    text: str = Field(min_length=1)


class TemplateStatusChange(BaseModel):
    """Meta changing a template's status (approving, pausing, disabling it)."""

    model_config = ConfigDict(extra="forbid")

    waba_id: str | None = None
    name: str
    language: str = "pt_BR"
    status: TemplateStatus
    reason: str | None = None


class AccountChange(BaseModel):
    """Any account-level Cloud webhook: ``field`` and its ``value`` exactly as Meta posts them,
    e.g. ``phone_number_quality_update`` with ``{"display_phone_number", "event": "FLAGGED",
    "current_limit", "max_daily_conversations_per_business": "TIER_250"}``."""

    model_config = ConfigDict(extra="forbid")

    waba_id: str | None = None
    field: str
    value: dict[str, Any]


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
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        count: Annotated[int | None, QueryParameter(ge=0)] = None,
    ) -> list[dict[str, object]]:
        """Accepted sends, oldest first; ``offset`` and ``count`` take a page of them (millions
        of sends in one answer take gigabytes on both sides), ``limit`` keeps the newest ones.
        Empty filters (``?sender=``) are ignored, as a form would send them."""
        found = provider.log.find(
            sender or None, recipient or None, message_id or None, limit, offset, count
        )
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

    @post("/_sim/templates", status_code=201)
    async def register_template(data: JSONBody[TemplateSpec]) -> dict[str, object]:
        """Register (or replace) a template in an account, as if Meta had reviewed it."""
        return provider.templates.register(data, provider.config.cloud_waba_id).as_graph()

    @get("/_sim/templates")
    async def list_templates() -> list[dict[str, object]]:
        waba_ids = {provider.config.cloud_waba_id, *provider.config.cloud_number_wabas.values()}
        return [
            {"waba_id": waba_id, **t.as_graph()}
            for waba_id in sorted(waba_ids)
            for t in provider.templates.of_account(waba_id)
        ]

    @post("/_sim/templates/status", status_code=200)
    async def change_template_status(
        data: JSONBody[TemplateStatusChange],
    ) -> Response[dict[str, object]]:
        """Change a template's status and post ``message_template_status_update``."""
        waba_id = data.waba_id or provider.config.cloud_waba_id
        template = provider.templates.find(waba_id, data.name, data.language)
        if template is None:
            raise ClientException(
                f"no template {data.name!r} in {data.language} in account {waba_id}",
                status_code=404,
            )
        template.status = data.status
        value = cloud.template_status_value(template, data.reason)
        posted = await provider.poster.post_change(
            waba_id, "message_template_status_update", value, provider.wall_clock()
        )
        return Response({"posted": posted, "template": template.as_graph()})

    @post("/_sim/account-webhook", status_code=200)
    async def account_webhook(data: JSONBody[AccountChange]) -> Response[dict[str, object]]:
        """Post one account-level webhook now (quality, tier, account update, template)."""
        if data.field not in cloud.ACCOUNT_FIELDS:
            raise ValidationException(
                f"field: must be one of {sorted(cloud.ACCOUNT_FIELDS)}, not {data.field!r}"
            )
        waba_id = data.waba_id or provider.config.cloud_waba_id
        posted = await provider.poster.post_change(
            waba_id, data.field, data.value, provider.wall_clock()
        )
        return Response({"posted": posted}, status_code=200 if posted else HTTP_502_BAD_GATEWAY)

    @get("/_sim/windows")
    async def windows() -> list[dict[str, object]]:
        """Every (number, doctor) 24 h window the simulator knows, open or not."""
        return provider.windows.as_json(provider.wall_clock(), provider.config.cloud_window_hours)

    @delete("/_sim/windows", status_code=204)
    async def close_window(sender: FromQuery[str], doctor: FromQuery[str]) -> None:
        """Close one window now, as 24 h passing would (to race a send that thought it open)."""
        number = wa_id(doctor)
        if number is None:
            raise ValidationException(f"doctor: {doctor!r} is not a phone number")
        provider.windows.closed(sender, number)

    return [
        register_template,
        list_templates,
        change_template_status,
        account_webhook,
        windows,
        close_window,
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
