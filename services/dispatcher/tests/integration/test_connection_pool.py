"""The provider connection pool against bare local servers: reuse, limits, and what each failure
says about whether the request left."""

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import trustme

from disparo_dispatcher.providers import connections
from disparo_dispatcher.providers.connections import (
    AnswerLost,
    ConnectionPool,
    InvalidTarget,
    NotSent,
    parse_target,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
JSON = {"Content-Type": "application/json"}


@dataclass
class Provider:
    """A stand-in provider: how many connections it saw, and each request's head and body."""

    url: str
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[bytes] = field(default_factory=list)


Answer = Callable[[Provider, bytes], Awaitable[bytes | None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def _serve(answer: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[Provider]:
    """Serve each request with ``answer`` (bytes to write, or None to hang up) until closed."""
    provider = Provider(url="")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        provider.connections += 1
        provider.open_now += 1
        provider.most_open = max(provider.most_open, provider.open_now)
        try:
            while (request := await _read_request(reader)) is not None:
                provider.requests.append(request)
                reply = await answer(provider, request)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if b"Connection: close" in reply:
                    break
        except ConnectionError:
            pass  # the client gave up on the call and closed its side
        finally:
            provider.open_now -= 1
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    scheme = "https" if tls else "http"
    provider.url = f"{scheme}://localhost:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield provider


def answering(reply: bytes) -> Answer:
    async def answer(_: Provider, __: bytes) -> bytes:
        return reply

    return answer


def answering_after(release: asyncio.Event) -> Answer:
    """Answer OK to each request once ``release`` is set."""

    async def answer(_: Provider, __: bytes) -> bytes:
        await release.wait()
        return OK

    return answer


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    async for served in _serve(answering(OK)):
        yield served


async def test_calls_reuse_one_kept_alive_connection(provider):
    async with ConnectionPool(4, 5.0) as pool:
        for _ in range(3):
            answer = await pool.post(f"{provider.url}/v21.0/1/messages", JSON, b'{"a":1}')
            assert (answer.status, answer.body) == (200, b"{}")
    assert provider.connections == 1
    head, body = provider.requests[0].split(b"\r\n\r\n")
    assert head.startswith(b"POST /v21.0/1/messages HTTP/1.1\r\n")
    assert f"Host: {provider.url.split('//')[1]}".encode() in head
    assert b"Content-Length: 7" in head and body == b'{"a":1}'


async def test_an_idle_connection_past_its_keepalive_is_not_reused(provider, monkeypatch):
    monkeypatch.setattr(connections, "KEEPALIVE_SECONDS", 0.0)
    async with ConnectionPool(4, 5.0) as pool:
        await pool.post(f"{provider.url}/m", JSON, b"{}")
        await pool.post(f"{provider.url}/m", JSON, b"{}")
    assert provider.connections == 2


async def test_a_provider_that_closes_after_answering_gets_a_new_connection_next_time():
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
    async for provider in _serve(answering(closing)):
        async with ConnectionPool(4, 5.0) as pool:
            first = await pool.post(f"{provider.url}/m", JSON, b"{}")
            second = await pool.post(f"{provider.url}/m", JSON, b"{}")
        assert first.status == second.status == 200
        assert provider.connections == 2


async def test_a_chunked_answer_is_read_whole_with_its_retry_after():
    chunked = (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"err\r\n5\r\nor":1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    async for provider in _serve(answering(chunked)):
        async with ConnectionPool(4, 5.0) as pool:
            answer = await pool.post(f"{provider.url}/m", JSON, b"{}")
            assert (answer.status, answer.body, answer.retry_after) == (429, b'{"error":1}', "7")
            await pool.post(f"{provider.url}/m", JSON, b"{}")
        assert provider.connections == 1


async def test_an_answer_ended_by_a_clean_close_is_whole():
    unframed = b'HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n{"key":{"id":"A1"}}'
    async for provider in _serve(answering(unframed)):
        async with ConnectionPool(4, 5.0) as pool:
            first = await pool.post(f"{provider.url}/m", JSON, b"{}")
            second = await pool.post(f"{provider.url}/m", JSON, b"{}")
        whole = (200, b'{"key":{"id":"A1"}}')
        assert (first.status, first.body) == whole == (second.status, second.body)
        assert provider.connections == 2


async def test_an_answer_cut_short_of_its_length_is_lost_even_on_a_clean_close():
    short = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 20\r\n\r\n{}"
    async for provider in _serve(answering(short)):
        async with ConnectionPool(4, 5.0) as pool:
            with pytest.raises(AnswerLost):
                await pool.post(f"{provider.url}/m", JSON, b"{}")


async def test_an_unframed_answer_cut_by_a_reset_is_lost():
    async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.0 200 OK\r\n\r\n{"key":')
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # with a zero linger: a reset, not a clean close

    server = await asyncio.start_server(reset_mid_body, "127.0.0.1", 0)
    async with server, ConnectionPool(4, 5.0) as pool:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(AnswerLost):
            await pool.post(f"http://127.0.0.1:{port}/m", JSON, b"{}")


async def test_calls_beyond_the_limit_wait_for_a_connection_and_all_complete():
    release = asyncio.Event()
    held = answering_after(release)

    async for provider in _serve(held):
        async with ConnectionPool(2, 5.0) as pool:
            calls = [
                asyncio.create_task(pool.post(f"{provider.url}/m", JSON, b"{}")) for _ in range(5)
            ]
            while len(provider.requests) < 2:
                await asyncio.sleep(0.01)
            release.set()
            answers = await asyncio.gather(*calls)
        assert [a.status for a in answers] == [200] * 5
        assert provider.most_open == 2


async def test_no_free_connection_in_time_is_not_sent_and_the_call_in_flight_goes_on():
    release = asyncio.Event()
    held = answering_after(release)

    async for provider in _serve(held):
        async with ConnectionPool(1, 0.2) as pool:
            patient = pool.post(f"{provider.url}/m", JSON, b"{}", extra_answer_seconds=5.0)
            in_flight = asyncio.create_task(patient)
            while not provider.requests:
                await asyncio.sleep(0.01)
            with pytest.raises(NotSent):
                await pool.post(f"{provider.url}/m", JSON, b"{}")
            release.set()
            assert (await in_flight).status == 200
        assert len(provider.requests) == 1


async def test_an_unanswered_call_times_out_and_its_connection_is_not_reused():
    async def silent_once(provider: Provider, __: bytes) -> bytes:
        if len(provider.requests) == 1:
            await asyncio.sleep(1)
        return OK

    async for provider in _serve(silent_once):
        async with ConnectionPool(1, 0.2) as pool:
            with pytest.raises(TimeoutError):
                await pool.post(f"{provider.url}/m", JSON, b"{}")
            # The late answer must never be read as the next call's.
            assert (await pool.post(f"{provider.url}/m", JSON, b"{}")).status == 200
        assert provider.connections == 2


async def test_a_hang_up_after_the_request_is_an_answer_lost():
    async def hang_up(_: Provider, __: bytes) -> None:
        return None

    async for provider in _serve(hang_up):
        async with ConnectionPool(4, 5.0) as pool:
            with pytest.raises(AnswerLost):
                await pool.post(f"{provider.url}/m", JSON, b"{}")
        assert len(provider.requests) == 1


async def test_what_is_not_http_is_an_answer_lost():
    async for provider in _serve(answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")):
        async with ConnectionPool(4, 5.0) as pool:
            with pytest.raises(AnswerLost):
                await pool.post(f"{provider.url}/m", JSON, b"{}")


async def test_an_answer_over_the_size_cap_is_an_answer_lost(monkeypatch):
    monkeypatch.setattr(connections, "MAX_ANSWER_BYTES", 1)
    async for provider in _serve(answering(OK)):
        async with ConnectionPool(4, 5.0) as pool:
            with pytest.raises(AnswerLost):
                await pool.post(f"{provider.url}/m", JSON, b"{}")


async def test_a_refused_connection_is_not_sent():
    async for provider in _serve(answering(OK)):
        url = provider.url
    async with ConnectionPool(4, 5.0) as pool:
        with pytest.raises(NotSent):
            await pool.post(f"{url}/m", JSON, b"{}")


async def test_a_header_with_a_line_break_is_never_sent(provider):
    async with ConnectionPool(4, 5.0) as pool:
        with pytest.raises(InvalidTarget):
            await pool.post(f"{provider.url}/m", {"apikey": "k\r\nX-Injected: 1"}, b"{}")
    assert provider.connections == 0


async def test_https_with_a_trusted_certificate_and_not_with_an_untrusted_one():
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    async for provider in _serve(answering(OK), tls=server_tls):
        async with ConnectionPool(4, 5.0, client_tls) as pool:
            assert (await pool.post(f"{provider.url}/m", JSON, b"{}")).status == 200
        async with ConnectionPool(4, 5.0, ssl.create_default_context()) as untrusting:
            with pytest.raises(NotSent):
                await untrusting.post(f"{provider.url}/m", JSON, b"{}")
        assert len(provider.requests) == 1


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "http://evo.local/message/sendText/a%20b",
            (False, "evo.local", 80, b"/message/sendText/a%20b"),
        ),
        (
            "https://graph.facebook.com/v21.0/1/messages",
            (True, "graph.facebook.com", 443, b"/v21.0/1/messages"),
        ),
        ("http://[::1]:8080/m?x=1#frag", (False, "::1", 8080, b"/m?x=1")),
        ("http://evo.local", (False, "evo.local", 80, b"/")),
    ],
)
def test_a_url_becomes_its_origin_and_request_target(url, target):
    parsed = parse_target(url)
    assert (parsed.https, parsed.host, parsed.port, parsed.path) == target


@pytest.mark.parametrize(
    "url",
    [
        "ftp://evo.local/m",
        "http:///m",
        "http://user:pw@evo.local/m",
        "http://evo.local/a b",
        "http://evo.local:99999/m",
    ],
)
def test_a_url_that_cannot_be_requested_is_an_invalid_target(url):
    with pytest.raises(InvalidTarget):
        parse_target(url)


async def test_a_call_cancelled_while_waiting_for_a_connection_leaves_no_room_taken():
    release = asyncio.Event()
    held = answering_after(release)

    async for provider in _serve(held):
        async with ConnectionPool(1, 5.0) as pool:
            first = asyncio.create_task(pool.post(f"{provider.url}/m", JSON, b"{}"))
            while not provider.requests:
                await asyncio.sleep(0.01)
            waiting = asyncio.create_task(pool.post(f"{provider.url}/m", JSON, b"{}"))
            await asyncio.sleep(0)  # it runs up to its wait for a connection, then is cancelled
            waiting.cancel()
            release.set()
            assert (await first).status == 200
            assert (await pool.post(f"{provider.url}/m", JSON, b"{}")).status == 200
        assert len(provider.requests) == 2
