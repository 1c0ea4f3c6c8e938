"""The provider send routes, answered straight from ASGI ahead of Litestar.

Under ``disparo bench dispatch`` the simulator answers thousands of sends a second on the same
two cores as the system it measures, and Litestar's routing, middleware, request and response
objects for each send took more than half of the simulator's CPU (py-spy, 300,000-message run:
``HTTPRoute.handle`` 52% of its samples, the simulated provider's own work 9%). A send needs only
its path, two headers, its body and a JSON answer, so the app (``app.SimulatorApp``) answers
these three paths through ``SendRoutes`` before Litestar sees them (``disparo bench dispatch
--messages 300000``: the simulator's 0.16 CPU-seconds per 1,000 sends became 0.09):

    POST /message/sendText/{instance}               Evolution
    POST /{version}/{phone_number_id}/messages      Cloud API
    POST /{phone_number_id}/messages                Cloud API, version left out
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import msgspec
from litestar.types import Receive, Scope, Send

from disparo_simulator.dialects import HttpAnswer

_JSON = msgspec.json.Encoder()
_METHOD_NOT_ALLOWED = HttpAnswer(405, {"detail": "Method Not Allowed"}, {"allow": "POST"})


@dataclass(frozen=True, slots=True)
class SendRequest:
    """What a send route reads of its request; header names are lower-case."""

    path_params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


SendHandler = Callable[[SendRequest], Awaitable[HttpAnswer]]


class SendRoutes:
    """Finds the send handler of a path and answers the send."""

    def __init__(self, evolution_send: SendHandler, cloud_send: SendHandler) -> None:
        self._evolution_send = evolution_send
        self._cloud_send = cloud_send

    def route(self, path: str) -> tuple[SendHandler, dict[str, str]] | None:
        """The send handler for ``path`` and its path parameters, or None."""
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["message", "sendText"] and parts[2]:
            return self._evolution_send, {"instance": parts[2]}
        # /chat/findMessages/{instance} is Evolution's, even for an instance named "messages".
        cloud = len(parts) == 2 or (len(parts) == 3 and parts[:2] != ["chat", "findMessages"])
        if cloud and parts[-1] == "messages" and all(parts[:-1]):
            return self._cloud_send, {"phone_number_id": parts[-2]}
        return None

    async def answer(
        self,
        route: tuple[SendHandler, dict[str, str]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if scope["method"] != "POST":
            await _respond(send, _METHOD_NOT_ALLOWED)
            return
        handler, path_params = route
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        request = SendRequest(path_params, headers, await _body(receive))
        await _respond(send, await handler(request))


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(send: Send, answer: HttpAnswer) -> None:
    body = _JSON.encode(answer.body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers.items()
        ),
    ]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
