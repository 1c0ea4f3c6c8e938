"""Kept-alive HTTP/1.1 connections to provider hosts, a few Python objects per call.

A send is one small JSON POST on a connection that is almost always already open, and at
thousands of sends a second the general-purpose client around it was the dispatcher's largest
cost. This pool does only what a provider call needs: it writes the request in one buffer and
lets httptools (uvicorn's C parser, llhttp) read the answer straight into the waiting call.
What it leaves out, on purpose: redirects (a provider API that redirects is misconfigured),
cookies, proxies, compression (no ``Accept-Encoding`` is sent, so none comes back) and
``Expect: 100-continue``.

Every failure says whether the request can have reached the provider, which is what decides
between a plain retry and a send in doubt:

- ``NotSent``: no byte of the request left (no free connection in time, the connection or its
  TLS handshake failed);
- ``AnswerLost``: the request was written and the answer never came whole (the provider hung
  up, answered what is not HTTP, or more than ``MAX_ANSWER_BYTES``);
- ``TimeoutError``: the call's deadline passed before the whole answer came;
- ``InvalidTarget``: the URL or a header cannot be sent at all (a misconfigured account).

An answer whose end is marked only by the provider closing the connection (no length, not
chunked: HTTP/1.0 servers and some proxies answer so) is whole when the connection ends cleanly,
and lost when it is reset.
"""

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools

CONNECT_TIMEOUT_SECONDS = 5.0
# Below the 5 s idle timeout of Node (Evolution) and uvicorn servers, so a pooled connection is
# dropped by us before the server closes it under a request we are writing.
KEEPALIVE_SECONDS = 4.0
# Far above any provider answer (a page of Evolution's message history is the largest), low
# enough that a broken provider cannot fill the dispatcher's memory.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# The whole call may take this much longer than the wait for a connection (within the 2 s margin
# DispatcherSettings keeps between the longest call and the message lease).
TOTAL_MARGIN_SECONDS = 1.0
USER_AGENT = b"disparo-dispatcher"


class NotSent(Exception):
    """No byte of the request reached the provider: a retry cannot send the message twice."""


class AnswerLost(Exception):
    """The request was written but no whole answer came back: the provider may have sent it."""


class InvalidTarget(ValueError):
    """The URL or a header value cannot be sent (a misconfigured account)."""


class Answer(NamedTuple):
    status: int
    body: bytes
    retry_after: str | None


class Target(NamedTuple):
    """Where a URL's request goes: the origin's address and the request line's target."""

    https: bool
    host: str
    port: int
    host_header: bytes
    path: bytes


@lru_cache(maxsize=4096)
def parse_target(url: str) -> Target:
    """The URL's origin and request target; cached, as a sender's URLs repeat on every send."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidTarget(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidTarget(f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise InvalidTarget("no host")
    if "@" in parts.netloc:
        raise InvalidTarget("credentials in the URL are not sent; use the account's credential")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii() or any(c in path for c in " \r\n\t"):
        raise InvalidTarget("the path has characters a request line cannot carry")
    https = parts.scheme == "https"
    return Target(
        https, parts.hostname, port or (443 if https else 80), parts.netloc.encode(), path.encode()
    )


def request_bytes(target: Target, headers: Mapping[str, str], body: bytes) -> bytes:
    """The whole request, head and body, in one buffer for one write."""
    lines = [
        b"POST ",
        target.path,
        b" HTTP/1.1\r\nHost: ",
        target.host_header,
        b"\r\nUser-Agent: ",
        USER_AGENT,
        b"\r\nContent-Length: ",
        str(len(body)).encode(),
        b"\r\n",
    ]
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise InvalidTarget(f"header {name} has a line break")
        lines.append(f"{name}: {value}\r\n".encode())
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


class _Connection(asyncio.Protocol):
    """One connection: at most one call at a time, its answer parsed as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.retry_after: str | None = None
        self.framed = False  # the answer says where its body ends (a length, or chunked)
        self.headers_done = False
        self.reusable = False
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            self.close()  # nothing was asked: the connection is out of step
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(AnswerLost(f"not an HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is None and self.headers_done and not self.framed:
            self._answer()  # a clean close is where an unframed answer ends (RFC 9112, 6.3)
        self._fail(AnswerLost(f"the provider closed the connection ({exc or 'no error'})"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name)  # compared first: most headers are none of these
        if size == 11 and name.lower() == b"retry-after":
            self.retry_after = value.decode("latin-1")
        elif size == 14 and name.lower() == b"content-length":
            self.framed = True
        elif size == 17 and name.lower() == b"transfer-encoding":
            self.framed = b"chunked" in value.lower()

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_ANSWER_BYTES:
            self._fail(AnswerLost(f"an answer over {MAX_ANSWER_BYTES} bytes"))
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        self._answer()

    def _answer(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(
                Answer(self.parser.get_status_code(), b"".join(self.chunks), self.retry_after)
            )

    # calls

    def ask(self, request: bytes, waiter: asyncio.Future[Answer]) -> None:
        self.chunks = []
        self.size = 0
        self.retry_after = None
        self.framed = False
        self.headers_done = False
        self.reusable = False
        self.waiter = waiter
        self.transport.write(request)  # type: ignore[union-attr]

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def live(self) -> bool:
        """Not closed by either side (a close we have not been told of yet cannot be seen)."""
        return not self.closed and not self.transport.is_closing()  # type: ignore[union-attr]

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Origin:
    """The connections to one scheme, host and port: at most ``limit`` open at once."""

    def __init__(self, target: Target, limit: int, ssl_context: ssl.SSLContext | None) -> None:
        self.target = target
        self.limit = limit
        self.ssl = ssl_context
        self.idle: deque[_Connection] = deque()  # the most recently used at the right
        self.open: set[_Connection] = set()
        self.connecting = 0
        self.waiters: deque[asyncio.Future[_Connection | None]] = deque()

    async def acquire(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        """A live connection: an idle one, a new one, or the next one freed before ``deadline``."""
        now = loop.time()
        while self.idle:
            connection = self.idle.pop()
            if connection.live() and now - connection.idle_since < KEEPALIVE_SECONDS:
                return connection
            self._drop(connection)
        if len(self.open) + self.connecting < self.limit:
            self.connecting += 1
        else:
            handed = await self._wait_for_room(loop, deadline)
            if handed is not None:
                return handed
        return await self._connect(loop, deadline)

    async def _wait_for_room(
        self, loop: asyncio.AbstractEventLoop, deadline: float
    ) -> _Connection | None:
        """A connection handed over by a finished call, or None: room to open one, reserved."""
        room: asyncio.Future[_Connection | None] = loop.create_future()
        self.waiters.append(room)
        expiry = loop.call_at(deadline, _expire, room, NotSent("no free connection in time"))
        try:
            return await room
        except asyncio.CancelledError:
            if room.done() and not room.cancelled() and room.exception() is None:
                handed = room.result()  # handed over as we were cancelled: pass it on
                if handed is None:
                    self.connecting -= 1
                    self._hand_room_over()
                else:
                    self.release(handed, loop.time())
            raise
        finally:
            expiry.cancel()

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        """A new connection, in the room the caller reserved (``connecting``)."""
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + CONNECT_TIMEOUT_SECONDS)):
                _, connection = await loop.create_connection(
                    _Connection, self.target.host, self.target.port, ssl=self.ssl
                )
        except BaseException as exc:
            self.connecting -= 1
            self._hand_room_over()
            if isinstance(exc, TimeoutError):
                raise NotSent("connecting took too long") from None
            if isinstance(exc, OSError):  # refused, unreachable, unknown host, TLS handshake
                raise NotSent(f"cannot connect: {exc!r}") from None
            raise
        self.connecting -= 1
        self.open.add(connection)
        return connection

    def release(self, connection: _Connection, now: float) -> None:
        """Give back a connection after a call: to the next waiting call, or to the idle ones."""
        connection.waiter = None
        if connection.closed or not connection.reusable:
            self._drop(connection)
            return
        while self.waiters:
            room = self.waiters.popleft()
            if not room.done():
                room.set_result(connection)
                return
        connection.idle_since = now
        self.idle.append(connection)

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self.open.discard(connection)
        self._hand_room_over()

    def _hand_room_over(self) -> None:
        """Let one waiting call open a connection, if the limit now allows one more."""
        if len(self.open) + self.connecting >= self.limit:
            return
        while self.waiters:
            room = self.waiters.popleft()
            if not room.done():
                self.connecting += 1  # reserved for the waiting call
                room.set_result(None)
                return

    def close(self) -> None:
        for connection in list(self.open):
            connection.close()
        self.open.clear()
        self.idle.clear()
        for room in self.waiters:
            if not room.done():
                room.set_exception(NotSent("the client closed"))
        self.waiters.clear()


def _expire(future: asyncio.Future, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)


class ConnectionPool:
    """At most ``connections`` open connections per provider host, each reused while kept alive.

    A call waits at most ``timeout_seconds`` for a connection (then ``NotSent``), as long again
    for the answer once the request is written, and ``TOTAL_MARGIN_SECONDS`` more than that in
    all (then ``TimeoutError``). Create and use it inside the
    running event loop; ``close()`` (or ``async with``) ends every connection, those of calls
    in flight included.
    """

    def __init__(
        self, connections: int, timeout_seconds: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self._limit = connections
        self._ssl = ssl_context
        self._origins: dict[tuple[bool, str, int], _Origin] = {}
        self._loop = asyncio.get_running_loop()

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, extra_answer_seconds: float = 0.0
    ) -> Answer:
        """POST ``body`` to ``url`` and read the whole answer; ``extra_answer_seconds`` more
        patience for a provider known to hold the request (Evolution's typing delay)."""
        target = parse_target(url)
        request = request_bytes(target, headers, body)
        origin = self._origin(target)
        loop = self._loop
        start = loop.time()
        connection = await origin.acquire(loop, start + self.timeout_seconds)
        answer: asyncio.Future[Answer] = loop.create_future()
        deadline = extra_answer_seconds + min(
            loop.time() + self.timeout_seconds, start + self.timeout_seconds + TOTAL_MARGIN_SECONDS
        )
        expiry = loop.call_at(deadline, _expire, answer, TimeoutError())
        try:
            connection.ask(request, answer)
            return await answer
        finally:
            expiry.cancel()
            origin.release(connection, loop.time())

    def _origin(self, target: Target) -> _Origin:
        key = (target.https, target.host, target.port)
        origin = self._origins.get(key)
        if origin is None:
            context = None
            if target.https:
                context = self._ssl if self._ssl is not None else ssl.create_default_context()
            origin = self._origins[key] = _Origin(target, self._limit, context)
        return origin

    async def close(self) -> None:
        for origin in self._origins.values():
            origin.close()
        self._origins.clear()

    async def __aenter__(self) -> "ConnectionPool":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
