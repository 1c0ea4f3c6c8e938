"""Evolution API routes, guarded by the ``apikey`` header: ``POST /message/sendText/{instance}``
(served by ``routes.sends``) and ``POST /chat/findMessages/{instance}`` (what the instance sent
to one chat, from its store)."""

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from disparo_simulator.dialects import HttpAnswer, evolution
from disparo_simulator.phones import wa_id
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.routes import MESSAGE_ID_HEADER, to_response
from disparo_simulator.routes.sends import SendHandler, SendRequest


def evolution_send(provider: SimulatedProvider) -> SendHandler:
    """``POST /message/sendText/{instance}``, served by ``SendRoutes``."""

    async def send_text(request: SendRequest) -> HttpAnswer:
        if request.headers.get("apikey") != provider.config.evolution_api_key:
            return evolution.unauthorized()
        parsed = evolution.parse_send_text(
            request.path_params["instance"], request.body, request.headers.get(MESSAGE_ID_HEADER)
        )
        if isinstance(parsed, HttpAnswer):
            return parsed
        return evolution.answer(parsed, await provider.submit(parsed))

    return send_text


def evolution_routes(provider: SimulatedProvider) -> list[HTTPRouteHandler]:
    @post("/chat/findMessages/{instance:str}", status_code=200)
    async def find_messages(
        instance: FromPath[str], request: Request
    ) -> Response[dict[str, object]]:
        """The sends accepted through ``instance`` to ``where.key.remoteJid`` (required here:
        the simulator keeps no other chats), newest first; ``fromMe`` false finds nothing, since
        inbound messages are not stored."""
        if request.headers.get("apikey") != provider.config.evolution_api_key:
            return to_response(evolution.unauthorized())
        query = evolution.parse_find_messages(await request.body())
        if isinstance(query, HttpAnswer):
            return to_response(query)
        recipient = wa_id(query.where.key.remoteJid or "")
        if recipient is None:
            return to_response(evolution.bad_request(["where.key.remoteJid is required"]))
        provider.stats.lookups += 1
        sends = [] if query.where.key.fromMe is False else provider.log.chat(instance, recipient)
        if query.where.key.id is not None:
            sends = [s for s in sends if s.provider_message_id == query.where.key.id]
        return to_response(evolution.found_messages(sends, query.page, query.offset))

    return [find_messages]
