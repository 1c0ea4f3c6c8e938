"""End to end over HTTP: send through each dialect of the real simulator, receive its webhooks.

The simulator posts ``delivered`` and ``read`` (and a doctor's reply) to our webhook routes,
signed as the real providers sign them; the facts land in the outbox exactly once whether the
status beat our write of the provider id (parked, then resolved) or not.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.di import Provide

from disparo_dispatcher.providers.base import Accepted, OutgoingText, SenderAccount
from disparo_dispatcher.providers.registry import get_provider
from disparo_dispatcher.providers.transport import open_session
from disparo_dispatcher.webhooks.pending import resolve_pending_statuses
from disparo_dispatcher.webhooks.routes import WEBHOOK_ROUTES
from disparo_shared.db import create_pool
from disparo_shared.problems import EXCEPTION_HANDLERS
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually
from disparo_simulator.app import create_app as create_simulator
from disparo_simulator.settings import SimulatorSettings

DOCTOR = "+5511987654321"


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def _serve(app: Litestar) -> tuple[uvicorn.Server, asyncio.Task, socket.socket, str]:
    sock = _free_socket()
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


class PoolHolder:
    """The current test's pool, for routes served once per module."""

    pool: asyncpg.Pool | None = None


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[tuple[str, PoolHolder]]:
    """Our webhook routes and the simulator, both served; yields the simulator's URL."""
    holder = PoolHolder()
    ours = Litestar(
        route_handlers=WEBHOOK_ROUTES,
        dependencies={"pool": Provide(lambda: holder.pool, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
    )
    started = [await _serve(ours)]
    webhooks = started[0][3]
    settings = SimulatorSettings(
        evolution_webhook_url=f"{webhooks}/webhooks/evolution",
        cloud_webhook_url=f"{webhooks}/webhooks/cloud",
        delivered_after_seconds=0.05,
        read_probability=1.0,
        read_after_seconds=0.05,
        cloud_require_window=False,  # statuses of free text to doctors who never wrote
    )
    started.append(await _serve(create_simulator(settings)))
    try:
        yield started[1][3], holder
    finally:
        for server, task, sock, _ in reversed(started):
            server.should_exit = True
            await task
            sock.close()


@pytest.fixture
async def pool(database_url: str, servers) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "dispatcher"
    )
    await pool.execute(
        "INSERT INTO senders (sender_id, provider, address, base_url, credential_ref) VALUES"
        " ('sp-01', 'cloud', '100200300', 'x', 'env:X'),"
        " ('pe-01', 'evolution', 'recife-01', 'x', 'env:Y')"
    )
    servers[1].pool = pool
    yield pool
    servers[1].pool = None
    await pool.close()


@pytest.fixture
def running(servers, pool) -> str:
    return servers[0]


async def queued_message(pool: asyncpg.Pool, sender_id: str) -> UUID:
    message_id = uuid4()
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO messages (message_id, idempotency_key, phone, kind, body, priority, time_zone,"
        " state, due_at, rank_at, attempt, max_attempts, sender_id, requested_at, enqueued_at)"
        " VALUES ($1, $2, $3, 'campaign', 'Oi', 5, 'America/Sao_Paulo', 'sending', $4, $4, 1, 5,"
        " $5, $4, $4)",
        message_id,
        str(message_id),
        DOCTOR,
        now,
        sender_id,
    )
    return message_id


async def facts(pool: asyncpg.Pool, message_id: UUID) -> list[str]:
    async with pool.acquire() as conn:
        await resolve_pending_statuses(conn, datetime.now(UTC))
    rows = await pool.fetch(
        "SELECT subject FROM outbox WHERE payload->>'message_id' = $1 ORDER BY id", str(message_id)
    )
    return [row["subject"] for row in rows]


@pytest.mark.parametrize(
    ("provider", "account"),
    [
        (
            "evolution",
            SenderAccount("pe-01", "evolution", "recife-01", "{url}", "sim-evolution-key"),
        ),
        ("cloud", SenderAccount("sp-01", "cloud", "100200300", "{url}/v21.0", "sim-cloud-token")),
    ],
)
async def test_simulator_statuses_become_delivered_and_read_once(running, pool, provider, account):
    account = SenderAccount(
        account.sender_id,
        account.provider,
        account.address,
        account.base_url.format(url=running),
        account.credential,
    )
    message_id = await queued_message(pool, account.sender_id)
    async with open_session(4, 5.0) as http:
        result = await get_provider(provider, http).send_text(
            account, OutgoingText(message_id, DOCTOR, "Oi, Dra. Ana! Plantão sábado?", 1200)
        )
    assert isinstance(result, Accepted)
    await pool.execute(  # what the queue writes when the send's result commits
        "UPDATE messages SET state = 'sent', provider_message_id = $2 WHERE message_id = $1",
        message_id,
        result.provider_message_id,
    )

    async def both_told() -> bool:
        return await facts(pool, message_id) == ["message.delivered", "message.read"]

    await eventually(both_told, timeout=10)


@pytest.mark.parametrize(
    ("dialect", "sender", "sender_id"),
    [("evolution", "recife-01", "pe-01"), ("cloud", "100200300", "sp-01")],
)
async def test_simulated_doctor_reply_is_received(running, pool, dialect, sender, sender_id):
    async with httpx.AsyncClient(base_url=running, timeout=5) as control:
        response = await control.post(
            "/_sim/inbound",
            json={
                "dialect": dialect,
                "sender": sender,
                "from": "5511987654321",
                "text": "Tenho interesse",
            },
        )
    assert response.status_code == 200, response.text

    rows = await pool.fetch("SELECT payload FROM outbox WHERE subject = 'message.received'")
    [received] = [row["payload"] for row in rows]
    assert (received["phone"], received["sender"], received["body"]) == (
        DOCTOR,
        sender_id,
        "Tenho interesse",
    )
