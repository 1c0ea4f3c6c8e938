"""Cloud API routes: ``POST /{version}/{phone_number_id}/messages`` (served by
``routes.sends``) and ``GET /{version}/{waba_id}/message_templates`` (version optional), bearer
auth.
"""

from typing import Annotated

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from disparo_simulator.dialects import HttpAnswer, cloud
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.routes import MESSAGE_ID_HEADER, to_response
from disparo_simulator.routes.sends import SendHandler, SendRequest


def cloud_send(provider: SimulatedProvider) -> SendHandler:
    """``POST /{version}/{phone_number_id}/messages`` (version optional), served by
    ``SendRoutes``."""

    async def send_message(request: SendRequest) -> HttpAnswer:
        expected = "Bearer " + provider.config.cloud_access_token
        if request.headers.get("authorization") != expected:
            return cloud.unauthorized(provider.ids)
        parsed = cloud.parse_message(
            request.path_params["phone_number_id"],
            request.body,
            request.headers.get(MESSAGE_ID_HEADER),
            provider.ids,
        )
        if isinstance(parsed, HttpAnswer):
            return parsed
        result = await provider.submit(parsed)
        return cloud.answer(parsed, result, provider.ids, provider.config.retry_after_seconds)

    return send_message


def cloud_routes(provider: SimulatedProvider) -> list[HTTPRouteHandler]:
    async def list_templates(
        waba_id: str, request: Request, limit: int, after: str | None
    ) -> Response[dict[str, object]]:
        expected = "Bearer " + provider.config.cloud_access_token
        if request.headers.get("authorization") != expected:
            return to_response(cloud.unauthorized(provider.ids))
        templates = provider.templates.of_account(waba_id)
        next_url = str(request.url).split("?")[0]
        return Response(cloud.templates_page(templates, after, limit, next_url))

    Limit = Annotated[int, QueryParameter(ge=1, le=1000)]

    @get("/{version:str}/{waba_id:str}/message_templates")
    async def templates_versioned(
        version: FromPath[str],
        waba_id: FromPath[str],
        request: Request,
        limit: Limit = 25,
        after: FromQuery[str | None] = None,
    ) -> Response[dict[str, object]]:
        return await list_templates(waba_id, request, limit, after)

    @get("/{waba_id:str}/message_templates")
    async def templates_unversioned(
        waba_id: FromPath[str],
        request: Request,
        limit: Limit = 25,
        after: FromQuery[str | None] = None,
    ) -> Response[dict[str, object]]:
        return await list_templates(waba_id, request, limit, after)

    return [templates_versioned, templates_unversioned]
