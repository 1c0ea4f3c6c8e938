"""Evolution API routes: ``POST /message/sendText/{instance}`` guarded by the ``apikey`` header."""

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from disparo_simulator.dialects import HttpAnswer, evolution
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.routes import MESSAGE_ID_HEADER, to_response


def evolution_routes(provider: SimulatedProvider) -> list[HTTPRouteHandler]:
    @post("/message/sendText/{instance:str}", status_code=201)
    async def send_text(instance: FromPath[str], request: Request) -> Response[dict[str, object]]:
        if request.headers.get("apikey") != provider.config.evolution_api_key:
            return to_response(evolution.unauthorized())
        parsed = evolution.parse_send_text(
            instance, await request.body(), request.headers.get(MESSAGE_ID_HEADER)
        )
        if isinstance(parsed, HttpAnswer):
            return to_response(parsed)
        result = await provider.submit(parsed)
        return to_response(evolution.answer(parsed, result))

    return [send_text]
