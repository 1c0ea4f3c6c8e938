"""HTTP routes: thin handlers that parse, call the simulated provider, and render its answer."""

from litestar import Response

from disparo_simulator.dialects import HttpAnswer

MESSAGE_ID_HEADER = "x-disparo-message-id"
"""The caller's own message id; real providers ignore it, the simulator counts duplicates by it."""


def to_response(answer: HttpAnswer) -> Response[dict[str, object]]:
    return Response(content=answer.body, status_code=answer.status_code, headers=answer.headers)
