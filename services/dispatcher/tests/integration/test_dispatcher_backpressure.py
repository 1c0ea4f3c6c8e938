"""One replica under overload: a bounded number of provider calls in flight, and its own
in-flight sends never reclaimed as if another replica had died with them."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from dispatcher_harness import FAST, message, phone

from disparo_dispatcher import handlers, queue
from disparo_dispatcher.providers.base import Accepted
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings, SenderSeed
from disparo_dispatcher.worker import Dispatcher
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesRequested
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually


class StuckProvider:
    """Answers only when released; counts the calls it holds at once."""

    name = "evolution"

    def __init__(self) -> None:
        self.holding = 0
        self.peak = 0
        self.calls = 0
        self.ids: list = []
        self.release = asyncio.Event()

    async def send_text(self, account, outgoing):
        self.calls += 1
        self.ids.append(outgoing.message_id)
        self.holding += 1
        self.peak = max(self.peak, self.holding)
        try:
            await self.release.wait()
        finally:
            self.holding -= 1
        return Accepted(f"wamid.{outgoing.message_id}")


def seed(sender_id: str) -> SenderSeed:
    return SenderSeed(
        sender_id=sender_id,
        provider="evolution",
        address=sender_id,
        base_url="http://127.0.0.1:9",
        credential_ref="k",
        rate_per_second=50,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "dispatcher"
    )
    yield pool
    await pool.close()


async def test_an_overloaded_replica_caps_its_calls_and_keeps_its_own_sends(pool):
    settings = DispatcherSettings(
        **{
            **FAST,
            "senders": [seed("s1"), seed("s2")],
            "max_in_flight": 3,
            # Short leases: the held calls outlive their claim's lease.
            "message_lease_seconds": 3.0,
            "provider_timeout_seconds": 0.1,
            "sender_lease_renew_seconds": 0.1,
            "pair_spacing_seconds": 0.0,
        }
    )
    provider = StuckProvider()
    placement = PlacementCache(settings)
    dispatcher = Dispatcher(
        settings, placement, replica_id="busy", provider_factory=lambda name, http: provider
    )
    runner = asyncio.create_task(dispatcher.run(pool))

    async def holding_senders() -> bool:
        return len(dispatcher.slots) == 2

    async def three_calls() -> bool:
        return provider.calls == 3

    try:
        await eventually(holding_senders)
        event = MessagesRequested(messages=[message(phone(i)) for i in range(20)])
        await handlers.enqueue_requested(pool, event, datetime.now(UTC), placement, settings)
        await eventually(three_calls)
        flying = list(provider.ids)
        first_lease = await pool.fetchval(
            "SELECT max(lease_until) FROM messages WHERE message_id = ANY($1::uuid[])", flying
        )

        async def first_lease_over() -> bool:
            # Half a second past it: five lease ticks (renew, then reclaim) at least.
            return await pool.fetchval(
                "SELECT now() > $1::timestamptz + interval '0.5 s'", first_lease
            )

        await eventually(first_lease_over)
        # Past the claim's lease, with many lease ticks: the calls still in flight kept their
        # leases (renewed), and nothing of its own was reclaimed (put in doubt or back in line).
        rows = await pool.fetch(
            "SELECT state, lease_until, lease_owner FROM messages"
            " WHERE message_id = ANY($1::uuid[])",
            flying,
        )
        assert {(r["state"], r["lease_owner"]) for r in rows} == {("sending", "busy")}
        assert all(r["lease_until"] > first_lease for r in rows)
        assert provider.peak == 3
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM messages WHERE last_error_code = 'lease_expired'"
            )
            == 0
        )
        provider.release.set()

        async def all_sent() -> bool:
            sent = await pool.fetchval("SELECT count(*) FROM all_messages WHERE state = 'sent'")
            return sent == 20

        await eventually(all_sent)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert provider.peak == 3
    assert provider.calls == 20  # each message went out once
    async with pool.acquire() as conn:
        assert (
            await queue.reclaim_expired_leases(
                conn, ["s1", "s2"], datetime.now(UTC) + timedelta(hours=1), retry=True
            )
            == []
        )


async def test_a_reply_does_not_wait_for_the_calls_of_a_campaign(pool):
    settings = DispatcherSettings(
        **{
            **FAST,
            "senders": [seed("s1")],
            "max_in_flight": 3,
            "urgent_in_flight_reserve": 1,
            "pair_spacing_seconds": 0.0,
        }
    )
    provider = StuckProvider()
    placement = PlacementCache(settings)
    dispatcher = Dispatcher(
        settings, placement, replica_id="busy", provider_factory=lambda name, http: provider
    )
    runner = asyncio.create_task(dispatcher.run(pool))

    async def calls(n: int) -> bool:
        return provider.calls == n

    try:
        await eventually(lambda: _holds_a_sender(dispatcher))
        campaign = MessagesRequested(messages=[message(phone(i)) for i in range(10)])
        await handlers.enqueue_requested(pool, campaign, datetime.now(UTC), placement, settings)
        await eventually(lambda: calls(3))  # the cap is full of campaign calls, all stuck
        reply = message(phone(99), kind="reply", priority=10)
        event = MessagesRequested(messages=[reply])
        await handlers.enqueue_requested(pool, event, datetime.now(UTC), placement, settings)
        await eventually(lambda: calls(4))
        assert provider.ids[-1] == reply.message_id
        await asyncio.sleep(0.3)
        assert provider.calls == 4  # the reserve is for urgent messages only
    finally:
        provider.release.set()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def _holds_a_sender(dispatcher: Dispatcher) -> bool:
    return len(dispatcher.slots) == 1
