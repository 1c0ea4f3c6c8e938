"""Doubtful sends end to end: the real dispatcher, served over HTTP, hears the simulator's echoes.

A replica that died mid-send is played by a "ghost": it holds the sender's lease, claims messages
and sends one of them straight to the simulator, then vanishes. The real dispatcher takes the
sender over once the ghost's leases run out; the echo of the send that reached the provider
settles that message as sent (no second send at the simulator), while the one that never left
is settled by asking the provider (Evolution) or, on Cloud, held for a person and then requeued.
A call that times out although the provider took it is settled by the echo too, or without
echoes by the provider's search; where nothing can tell, replies go again, campaigns wait.
Both dialects: Cloud's ``sent`` status names our message id, Evolution's ``send.message`` is
matched by number, recipient, text and time.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import uvicorn
from dispatcher_harness import (
    CLOUD_TOKEN,
    EVOLUTION_KEY,
    FAST,
    Simulator,
    cloud_sender,
    collect_sent,
    doctors_wrote,
    evolution_sender,
    message,
    phone,
    request,
    simulator,
)

from disparo_dispatcher import handlers, queue, senders
from disparo_dispatcher.app import create_app
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings, SenderSeed
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesRequested
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually

GHOST_LEASE = timedelta(seconds=3)


def _bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def served_dispatcher(
    kernel: KernelSettings, senders_: list[SenderSeed], sock: socket.socket, **overrides: Any
) -> AsyncIterator[None]:
    """One real replica served on ``sock``, so the simulator's webhooks reach its routes."""
    settings = DispatcherSettings(senders=senders_, **{**FAST, **overrides})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(kernel, settings),
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def simulator_posting_to(sock: socket.socket, **settings: Any) -> AsyncIterator[Simulator]:
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with simulator(
        evolution_webhook_url=f"{url}/webhooks/evolution",
        cloud_webhook_url=f"{url}/webhooks/cloud",
        delivered_after_seconds=0.05,
        read_probability=0.0,
        **settings,
    ) as sim:
        yield sim


def seed_for(sim: Simulator, dialect: str) -> SenderSeed:
    if dialect == "cloud":
        return cloud_sender(sim, "sim-cloud", "100000000000001")
    return evolution_sender(sim, "sim-evolution")


async def ghost_send(seed: SenderSeed, claimed: queue.ClaimedMessage) -> str:
    """What the dead replica managed before dying: the provider call, in the sender's dialect."""
    async with httpx.AsyncClient(timeout=5) as http:
        digits = claimed.phone.lstrip("+")
        headers = {"X-Disparo-Message-Id": str(claimed.message_id)}
        if seed.provider == "cloud":
            answer = await http.post(
                f"{seed.base_url}/{seed.address}/messages",
                headers={**headers, "Authorization": f"Bearer {CLOUD_TOKEN}"},
                json={
                    "messaging_product": "whatsapp",
                    "to": digits,
                    "type": "text",
                    "text": {"body": claimed.body},
                    "biz_opaque_callback_data": str(claimed.message_id),
                },
            )
            answer.raise_for_status()
            return answer.json()["messages"][0]["id"]
        answer = await http.post(
            f"{seed.base_url}/message/sendText/{seed.address}",
            headers={**headers, "apikey": EVOLUTION_KEY},
            json={"number": digits, "text": claimed.body},
        )
        answer.raise_for_status()
        return answer.json()["key"]["id"]


async def _row(db: asyncpg.Connection, message_id: UUID) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT state, attempt, provider_message_id, last_error_code"
        " FROM dispatcher.all_messages WHERE message_id = $1",
        message_id,
    )


def _sends_of(sim: Simulator, message_id: UUID) -> list:
    return [s for s in sim.sends() if s.message_id == str(message_id)]


@pytest.mark.parametrize("dialect", ["evolution", "cloud"])
async def test_a_dead_replicas_send_that_reached_the_provider_is_settled_by_its_echo(
    dialect, kernel_settings, database_url, db
):
    sock = _bound_socket()
    settings = DispatcherSettings(**FAST)
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "dispatcher"
    )
    try:
        async with (
            simulator_posting_to(sock) as sim,
            collect_sent(kernel_settings.nats) as sent_events,
        ):
            seed = seed_for(sim, dialect)
            # The ghost replica: holds the sender, claims both messages, sends only the first.
            now = datetime.now(UTC)
            reached, lost = message(phone(1), "Plantão sábado?"), message(phone(2), "Plantão?")
            await doctors_wrote(db, seed.sender_id, phone(1), phone(2))
            async with pool.acquire() as conn:
                await senders.upsert_sender(conn, seed)
                await conn.execute(
                    "UPDATE senders SET lease_owner = 'ghost', lease_until = $1",
                    now + GHOST_LEASE,
                )
            await handlers.enqueue_requested(
                pool,
                MessagesRequested(messages=[reached, lost]),
                now,
                PlacementCache(settings),
                settings,
            )
            async with pool.acquire() as conn:
                claimed = await queue.claim(
                    conn, {seed.sender_id: 10}, now, "ghost", now + GHOST_LEASE
                )
            assert {c.message_id for c in claimed} == {reached.message_id, lost.message_id}
            ghost_claim = next(c for c in claimed if c.message_id == reached.message_id)

            async with served_dispatcher(kernel_settings, [seed], sock):
                provider_id = await ghost_send(seed, ghost_claim)  # ... and the ghost dies

                if dialect == "cloud":
                    # No search on Cloud: the campaign message no echo vouches for is held for
                    # a person (at most once), then sent again with one call.
                    await eventually(lambda: _held(db, lost.message_id), timeout=15)
                    await handlers.requeue_held_in_doubt(pool, None, datetime.now(UTC))

                async def both_sent():
                    rows = [await _row(db, m.message_id) for m in (reached, lost)]
                    return all(r["state"] == "sent" for r in rows) and rows

                reached_row, lost_row = await eventually(both_sent, timeout=15)
                await eventually(lambda: _has_events(sent_events, 2))

        assert (reached_row["attempt"], reached_row["provider_message_id"]) == (1, provider_id)
        assert reached_row["last_error_code"] == "lease_expired"  # it was in doubt, then settled
        # Never reached the provider: Evolution's search says so; on Cloud a person did.
        assert lost_row["attempt"] == 2
        assert len(_sends_of(sim, reached.message_id)) == 1
        assert len(_sends_of(sim, lost.message_id)) == 1
        assert sim.stats()["duplicates"] == 0
        told = {e["message_id"]: e for e in sent_events}
        assert told[str(reached.message_id)]["provider_message_id"] == provider_id
        assert told[str(reached.message_id)]["attempt"] == 1
    finally:
        await pool.close()


@pytest.mark.parametrize("dialect", ["evolution", "cloud"])
async def test_a_timed_out_call_the_provider_took_is_sent_once(dialect, kernel_settings, db):
    sock = _bound_socket()
    # The simulator takes the send at once (and echoes it), then answers after 1.2 s: past our
    # 0.3 s timeout. A blind retry would be a duplicate.
    async with simulator_posting_to(sock, latency_ms=(1200, 1200)) as sim:
        seed = seed_for(sim, dialect)
        async with served_dispatcher(
            kernel_settings, [seed], sock, provider_timeout_seconds=0.3, in_doubt_grace_seconds=5
        ):
            doubted = message(phone(3), "Olá, doutor! Plantão na UTI?")
            await doctors_wrote(db, seed.sender_id, phone(3))
            await request(kernel_settings.nats, doubted)

            async def sent():
                row = await _row(db, doubted.message_id)
                return row is not None and row["state"] == "sent" and row

            row = await eventually(sent, timeout=15)
    [accepted] = _sends_of(sim, doubted.message_id)
    assert (row["attempt"], row["provider_message_id"]) == (1, accepted.provider_message_id)
    assert row["last_error_code"] == "timeout"
    assert sim.stats()["duplicates"] == 0 and sim.stats()["accepted"] == 1


async def test_without_echoes_a_timed_out_call_is_settled_by_asking_the_provider(
    kernel_settings, db
):
    sock = _bound_socket()
    async with simulator_posting_to(sock, latency_ms=(1200, 1200), send_echo=False) as sim:
        seed = seed_for(sim, "evolution")
        async with served_dispatcher(
            kernel_settings,
            [seed],
            sock,
            provider_timeout_seconds=0.3,
            senders_without_echoes=[seed.sender_id],
        ):
            doubted = message(phone(4), "Olá!", max_attempts=2)
            await request(kernel_settings.nats, doubted)

            async def sent():
                row = await _row(db, doubted.message_id)
                return row is not None and row["state"] == "sent" and row

            row = await eventually(sent, timeout=15)
    [accepted] = _sends_of(sim, doubted.message_id)
    assert (row["attempt"], row["provider_message_id"]) == (1, accepted.provider_message_id)
    assert sim.stats()["lookups"] >= 1
    assert sim.provider.stats_json()["echoes_posted"] == 0


async def test_a_call_the_provider_takes_after_our_deadline_is_not_declared_absent(
    kernel_settings, db
):
    """An overloaded provider keeps the request we gave up on and takes it later: its search
    answers "not sent" until then, which proves nothing before the provider's horizon."""
    sock = _bound_socket()
    async with simulator_posting_to(sock, accept_delay_ms=(1500, 1500), send_echo=False) as sim:
        seed = seed_for(sim, "evolution")
        async with served_dispatcher(
            kernel_settings,
            [seed],
            sock,
            provider_timeout_seconds=0.3,
            senders_without_echoes=[seed.sender_id],
            provider_processing_horizon_seconds=4.0,
        ):
            doubted = message(phone(6), "Olá!", max_attempts=3)
            await request(kernel_settings.nats, doubted)

            async def sent():
                row = await _row(db, doubted.message_id)
                return row is not None and row["state"] == "sent" and row

            row = await eventually(sent, timeout=15)
            await asyncio.sleep(2.0)  # a second call, had there been one, lands by now
    [accepted] = _sends_of(sim, doubted.message_id)
    assert (row["attempt"], row["provider_message_id"]) == (1, accepted.provider_message_id)
    assert sim.stats()["duplicates"] == 0


@pytest.mark.parametrize(("kind", "sends"), [("reply", 2), ("campaign", 1)])
async def test_when_nothing_can_tell_replies_are_sent_again_and_campaigns_held(
    kind, sends, kernel_settings, db
):
    sock = _bound_socket()
    async with simulator_posting_to(sock, latency_ms=(1200, 1200), send_echo=False) as sim:
        seed = seed_for(sim, "evolution")
        async with served_dispatcher(
            kernel_settings,
            [seed],
            sock,
            provider_timeout_seconds=0.3,
            senders_without_echoes=[seed.sender_id],
            provider_lookup=False,
        ):
            doubted = message(phone(5), "Olá!", max_attempts=2, kind=kind)
            await request(kernel_settings.nats, doubted)

            async def settled():
                row = await _row(db, doubted.message_id)
                if kind == "campaign":
                    return await _held(db, doubted.message_id)
                return row is not None and row["attempt"] == 2 and row["state"] != "sending"

            await eventually(settled, timeout=15)
    # Replies at least once: the provider took both calls (only the answers were late).
    # Campaigns at most once: the one call stands, the message waits for a person.
    assert len(_sends_of(sim, doubted.message_id)) == sends


async def _held(db: asyncpg.Connection, message_id: UUID) -> bool:
    return bool(
        await db.fetchval(
            "SELECT count(*) FROM dispatcher.all_messages WHERE message_id = $1"
            " AND state = 'in_doubt' AND in_doubt_held_at IS NOT NULL",
            message_id,
        )
    )


async def _has_events(events: list, count: int) -> bool:
    return len(events) >= count
