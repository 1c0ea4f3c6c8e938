"""One POST to a provider, with every network failure turned into a classified ``Rejected``.

The client is aiohttp: at thousands of sends per second the HTTP client is most of the
dispatcher's CPU, and aiohttp (C HTTP parser, per-host pool lookup) costs about a seventh of
httpx per call: measured against the simulator, 200 sends in flight, about 0.25 CPU-seconds per
1,000 sends against 1.8 with httpx. pyreqwest (Rust's reqwest) costs less per call in a client
alone, but not in the dispatcher: its answers come back from a thread of its own, which must take
the interpreter's lock from the busy event loop for each one. In two alternating pairs of
``disparo bench dispatch --messages 300000`` the dispatcher spent 0.339 and 0.319 CPU-seconds per
1,000 messages with it against 0.300 and 0.312 with aiohttp, and sent 54% and 73% of its
after-intake rate during the intake against 82% and 78%. A send reads the whole answer into a
``ProviderAnswer`` before the connection goes back to the pool, so the adapters classify plain
data.

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
injected here rather than by the aiohttp instrumentation, whose client span per send
(about 0.12 CPU-seconds per 1,000 sends more) repeats what ``dispatcher.send`` already records.
When spans are not exported the worker opens no ``dispatcher.send`` span, and with no span in
the context there is nothing to inject: the propagators are not asked at all.
"""

import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from opentelemetry import trace
from opentelemetry.propagate import inject

from disparo_dispatcher.providers import classify
from disparo_dispatcher.providers.base import FailureClass, Rejected

MESSAGE_ID_HEADER = "X-Disparo-Message-Id"
CONNECT_ERROR = "connect_error"
CONNECT_TIMEOUT_SECONDS = 5.0
# Below the 5 s idle timeout of Node (Evolution) and uvicorn servers, so a pooled connection is
# dropped by us before the server closes it under a request we are writing.
KEEPALIVE_SECONDS = 4.0
# The whole call may take this much longer than the provider timeout (within the 2 s margin
# DispatcherSettings keeps between the longest call and the message lease).
TOTAL_MARGIN_SECONDS = 1.0


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
) -> aiohttp.ClientSession:
    """A client session holding at most ``connections`` open connections per provider host.

    ``timeout_seconds`` bounds the wait for a free pooled connection (then ``connect_error``),
    the wait for each piece of the answer, and, one second more, the whole call (``timeout``):
    a provider that
    trickles its answer a byte at a time cannot keep a call going past it, and so past the
    message's lease (``DispatcherSettings`` keeps the lease longer than the longest call);
    opening a connection has its own 5 s within it. Cookies
    are not kept (providers use none, and the jar costs CPU on every call) and redirects are
    not followed: a provider API that redirects is misconfigured, and the 3xx is classified.
    Call it inside the running event loop; close it with ``await session.close()``.
    """
    connector = aiohttp.TCPConnector(
        limit=connections,
        limit_per_host=connections,
        keepalive_timeout=KEEPALIVE_SECONDS,
        ssl=ssl_context if ssl_context is not None else True,
    )
    timeout = aiohttp.ClientTimeout(
        # A second past the pool wait, so that one ends first, as the unambiguous connect_error.
        total=timeout_seconds + TOTAL_MARGIN_SECONDS,
        connect=timeout_seconds,
        sock_connect=CONNECT_TIMEOUT_SECONDS,
        sock_read=timeout_seconds,
    )
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    )


def _timeout_with_extra_read(
    http: aiohttp.ClientSession, extra_read_seconds: float
) -> aiohttp.ClientTimeout:
    """The session's timeout, with ``extra_read_seconds`` more patience for the answer.

    Evolution holds the request while it shows the typing indicator (``delay``), so a 4 s typing
    indicator under a 10 s timeout must wait 14 s, in all and for the answer, before calling it
    a timeout.
    """
    base = http.timeout
    read = None if base.sock_read is None else base.sock_read + extra_read_seconds
    return aiohttp.ClientTimeout(
        total=None if base.total is None else base.total + extra_read_seconds,
        connect=base.connect,
        sock_read=read,
        sock_connect=base.sock_connect,
        ceil_threshold=base.ceil_threshold,
    )


async def post_json(
    http: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    extra_read_seconds: float = 0.0,
) -> ProviderAnswer | Rejected:
    """The provider's answer, whatever its status, or a ``Rejected`` when none came back."""
    headers = {**headers, "Content-Type": "application/json"}
    if trace.get_current_span().get_span_context().is_valid:
        inject(headers)
    timeout = (
        _timeout_with_extra_read(http, extra_read_seconds) if extra_read_seconds else http.timeout
    )
    try:
        async with http.post(
            url, data=orjson.dumps(body), headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            return ProviderAnswer(
                response.status, await response.read(), response.headers.get("Retry-After")
            )
    except aiohttp.ConnectionTimeoutError as exc:
        return Rejected(FailureClass.TRANSIENT, CONNECT_ERROR, f"connect timeout: {exc!r}")
    except TimeoutError as exc:
        return Rejected(FailureClass.TRANSIENT, classify.TIMEOUT, f"no answer in time: {exc!r}")
    except aiohttp.ClientConnectorError as exc:
        return Rejected(FailureClass.TRANSIENT, CONNECT_ERROR, f"cannot connect: {exc!r}")
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        # A misconfigured base URL or address: no message can leave through this account.
        return Rejected(FailureClass.PAUSE_SENDER, "invalid_url", f"bad provider URL: {exc!r}")
    except (aiohttp.ClientError, OSError) as exc:
        return Rejected(
            FailureClass.TRANSIENT, classify.CONNECTION_ERROR, f"connection failed: {exc!r}"
        )


def json_or_empty(answer: ProviderAnswer) -> dict[str, Any]:
    """The body as a JSON object, or {} when it is not one (HTML error pages, empty)."""
    try:
        data = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def body_summary(answer: ProviderAnswer) -> str:
    """What an error's detail says of a body we could not read: its status and size.

    Never its text: the detail reaches ``last_error`` and the API, and a body may echo what we
    sent, the credential included.
    """
    return f"HTTP {answer.status}, {len(answer.body)}-byte body not shown"
