"""One POST to a provider, with every network failure turned into a classified ``Rejected``.

At thousands of sends per second the HTTP client is the largest part of the dispatcher's CPU.
The calls go through ``connections.ConnectionPool``: kept-alive HTTP/1.1 connections, the
request written in one buffer, the answer parsed by httptools into the waiting call. In two
alternating pairs of ``disparo bench dispatch --messages 300000`` it took the dispatcher from
0.504 and 0.474 CPU-seconds per 1,000 messages with aiohttp to 0.310 and 0.275, and the run
from 1,668 and 1,800 msg/s to 2,288 and 2,582; aiohttp, in turn, had cost about a seventh of
httpx per call. pyreqwest (Rust's reqwest), tried before this pool, cost less than aiohttp per
call in a client alone, but not in the dispatcher: its answers come back from a thread of its
own, which must take the interpreter's lock from the busy event loop for each one. In two
alternating pairs of ``disparo bench dispatch --messages 300000`` the dispatcher spent 0.339 and
0.319 CPU-seconds per 1,000 messages with it against 0.300 and 0.312 with aiohttp, and sent 54%
and 73% of its after-intake rate during the intake against 82% and 78%. A send reads the whole
answer into a ``ProviderAnswer`` before the connection goes back to the pool, so the adapters
classify plain data.

Timeouts are ambiguous: the provider may have accepted, and even delivered, the message before
the answer was lost. They are classified TRANSIENT (code ``timeout``), so a retry can send the
text a second time; the alternative, treating them as sent, would silently lose messages whose
request never arrived. The same holds for a connection dropped after the request went out
(``connection_error``). A connection that was never made (``connect_error``, including waiting
too long for a free pooled connection) is unambiguous: nothing was sent. The simulator counts
duplicates by the ``X-Disparo-Message-Id`` header, so the double-send rate of a run is
measurable.

Each request carries the W3C ``traceparent`` of the current span (the worker's
``dispatcher.send``), so a provider or proxy that traces joins the message's trace. It is
injected here rather than by a client instrumentation, whose client span per send (about 0.12
CPU-seconds per 1,000 sends more, measured with aiohttp's) repeats what ``dispatcher.send``
already records.
When spans are not exported the worker opens no ``dispatcher.send`` span, and with no span in
the context there is nothing to inject: the propagators are not asked at all.
"""

import ssl
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.propagate import inject

from disparo_dispatcher.providers import classify
from disparo_dispatcher.providers.base import FailureClass, Rejected
from disparo_dispatcher.providers.connections import (
    AnswerLost,
    ConnectionPool,
    InvalidTarget,
    NotSent,
)
from disparo_shared.events import limits

MESSAGE_ID_HEADER = "X-Disparo-Message-Id"
CONNECT_ERROR = "connect_error"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """What a provider answered: its status, whole body and ``Retry-After`` header."""

    status: int
    body: bytes = b""
    retry_after: str | None = None


def open_session(
    connections: int,
    timeout_seconds: float,
    ssl_context: ssl.SSLContext | None = None,
) -> ConnectionPool:
    """A sender's connections: at most ``connections`` open per provider host.

    ``timeout_seconds`` bounds the wait for a connection (then ``connect_error``: nothing was
    sent) and, one second more, the whole call (``timeout``): a provider that trickles its
    answer a byte at a time cannot keep a call going past it, and so past the message's lease
    (``DispatcherSettings`` keeps the lease longer than the longest call). Opening a connection
    has its own 5 s within it. Call it inside the running event loop; close it with
    ``await session.close()``.
    """
    return ConnectionPool(connections, timeout_seconds, ssl_context)


async def post_json(
    http: ConnectionPool,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    extra_read_seconds: float = 0.0,
) -> ProviderAnswer | Rejected:
    """The provider's answer, whatever its status, or a ``Rejected`` when none came back."""
    headers = {**headers, **JSON_HEADERS}
    if trace.get_current_span().get_span_context().is_valid:
        inject(headers)
    try:
        answer = await http.post(url, headers, orjson.dumps(body), extra_read_seconds)
    except NotSent as exc:
        return Rejected(FailureClass.TRANSIENT, CONNECT_ERROR, f"not sent: {exc}")
    except TimeoutError:
        return Rejected(FailureClass.TRANSIENT, classify.TIMEOUT, "no answer in time")
    except AnswerLost as exc:
        return Rejected(FailureClass.TRANSIENT, classify.CONNECTION_ERROR, f"answer lost: {exc}")
    except InvalidTarget as exc:
        # A misconfigured base URL, address or credential: no message can leave this account.
        return Rejected(FailureClass.PAUSE_SENDER, "invalid_url", f"cannot send: {exc}")
    return ProviderAnswer(answer.status, answer.body, answer.retry_after)


def json_or_empty(answer: ProviderAnswer) -> dict[str, Any]:
    """The body as a JSON object, or {} when it is not one (HTML error pages, empty)."""
    try:
        data = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def provider_id_or_none(value: object) -> str | None:
    """A provider's id for a message when it is one we can keep: a non-empty text of at most
    ``limits.PROVIDER_ID`` characters. A longer one would make the batched ``message.sent``
    that carries it unreadable to every reader, so such an answer counts as one without an id."""
    if isinstance(value, str) and 0 < len(value) <= limits.PROVIDER_ID:
        return value
    return None


def body_summary(answer: ProviderAnswer) -> str:
    """What an error's detail says of a body we could not read: its status and size.

    Never its text: the detail reaches ``last_error`` and the API, and a body may echo what we
    sent, the credential included.
    """
    return f"HTTP {answer.status}, {len(answer.body)}-byte body not shown"
