"""A provider that trickles its answer cannot keep a call going past its total deadline.

The stand-in is a bare TCP server that answers a sendText with headers at once, then one byte
of the body every 0.2 s: each read gets data well within the read timeout, so only the call's
total deadline ends it. Without one, this call would take the whole body's 8 s and could
outlive the message's lease.
"""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from disparo_dispatcher.providers.base import OutgoingText, Rejected, SenderAccount
from disparo_dispatcher.providers.evolution import EvolutionProvider
from disparo_dispatcher.providers.transport import open_session

BODY = b'{"key": {"id": "3EB0TRICKLED00000000"}, "status": "PENDING", "pad": "' + b"x" * 40 + b'"}'


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    )
    try:
        for byte in BODY:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def trickling_provider() -> AsyncIterator[str]:
    server = await asyncio.start_server(_trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def test_a_trickling_answer_ends_at_the_calls_total_deadline(trickling_provider):
    account = SenderAccount("s1", "evolution", "inst-1", trickling_provider, "key")
    http = open_session(connections=4, timeout_seconds=1.0)
    try:
        result = await EvolutionProvider(http).send_text(
            account, OutgoingText(message_id=uuid4(), to="+5511987654321", body="Oi")
        )
    finally:
        await http.close()
    assert isinstance(result, Rejected)
    assert result.code == "timeout"  # ambiguous: the message goes in doubt, not blindly again
