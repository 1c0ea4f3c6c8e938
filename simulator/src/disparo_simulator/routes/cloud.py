"""Cloud API routes: ``POST /{version}/{phone_number_id}/messages`` and
``GET /{version}/{waba_id}/message_templates`` (version optional), bearer auth.
"""

from typing import Annotated

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from disparo_simulator.dialects import HttpAnswer, cloud
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.routes import MESSAGE_ID_HEADER, to_response


def cloud_routes(provider: SimulatedProvider) -> list[HTTPRouteHandler]:
    async def send_message(phone_number_id: str, request: Request) -> Response[dict[str, object]]:
        expected = "Bearer " + provider.config.cloud_access_token
        if request.headers.get("authorization") != expected:
            return to_response(cloud.unauthorized(provider.ids))
        parsed = cloud.parse_message(
            phone_number_id,
            await request.body(),
            request.headers.get(MESSAGE_ID_HEADER),
            provider.ids,
        )
        if isinstance(parsed, HttpAnswer):
            return to_response(parsed)
        result = await provider.submit(parsed)
        return to_response(
            cloud.answer(parsed, result, provider.ids, provider.config.retry_after_seconds)
        )

    @post("/{version:str}/{phone_number_id:str}/messages", status_code=200)
    async def send_versioned(
        version: FromPath[str], phone_number_id: FromPath[str], request: Request
    ) -> Response[dict[str, object]]:
        return await send_message(phone_number_id, request)

    @post("/{phone_number_id:str}/messages", status_code=200)
    async def send_unversioned(
        phone_number_id: FromPath[str], request: Request
    ) -> Response[dict[str, object]]:
        return await send_message(phone_number_id, request)

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

    return [send_versioned, send_unversioned, templates_versioned, templates_unversioned]
