"""Claiming against real Postgres: leases, fencing, reclaim, priority and fairness in the claim."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import asyncpg
import pytest
from dispatcher_harness import FAST, message, phone

from disparo_dispatcher import handlers, queue
from disparo_dispatcher.queue import SentMessage
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesRequested
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SETTINGS = DispatcherSettings(**FAST)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "dispatcher"
    )
    await pool.execute(
        "INSERT INTO senders (sender_id, provider, address, base_url, credential_ref)"
        " VALUES ('s1', 'evolution', 's1', 'http://x', 'k')"
    )
    yield pool
    await pool.close()


async def enqueue(pool, *messages, now=NOW) -> int:
    event = MessagesRequested(messages=list(messages))
    return await handlers.enqueue_requested(pool, event, now, PlacementCache(SETTINGS), SETTINGS)


async def test_a_stale_attempt_finished_late_changes_nothing(pool):
    await enqueue(pool, message(phone(1)))
    async with pool.acquire() as conn:
        [first] = await queue.claim(conn, {"s1": 10}, NOW, "replica-a", NOW + timedelta(seconds=1))
        assert first.attempt == 1
        # replica-a dies mid-send; once its lease is over, the sender's next holder reclaims.
        later = NOW + timedelta(seconds=2)
        reclaimed = await queue.reclaim_expired_leases(conn, ["s1"], later, retry=True)
        assert [(r["state"], r["attempt"]) for r in reclaimed] == [("queued", 1)]
        [second] = await queue.claim(
            conn, {"s1": 10}, later, "replica-b", later + timedelta(seconds=9)
        )
        assert second.attempt == 2  # the possibly-spent attempt stays counted
        stale = await queue.mark_sent(conn, [SentMessage(first.message_id, 1, "late", later)])
        assert stale == set()
        fresh = await queue.mark_sent(conn, [SentMessage(second.message_id, 2, "wamid.2", later)])
        assert fresh == {second.message_id}
        row = await conn.fetchrow("SELECT state, provider_message_id FROM all_messages")
    assert tuple(row) == ("sent", "wamid.2")


async def test_unexpired_leases_are_not_reclaimed_and_dead_is_the_at_most_once_choice(pool):
    await enqueue(pool, message(phone(1)), message(phone(2), max_attempts=1))
    async with pool.acquire() as conn:
        await queue.claim(conn, {"s1": 10}, NOW, "replica-a", NOW + timedelta(seconds=5))
        assert (
            await queue.reclaim_expired_leases(conn, ["s1"], NOW + timedelta(seconds=4), retry=True)
            == []
        )
        rows = await queue.reclaim_expired_leases(
            conn, ["s1"], NOW + timedelta(seconds=6), retry=False
        )
    assert {r["state"] for r in rows} == {"dead"}


async def test_a_replica_never_reclaims_the_sends_it_still_holds(pool):
    # An overloaded replica whose leases ran out while its calls were in flight (or their
    # outcomes waited for the flush) must not take them back: it would send them twice.
    await enqueue(pool, message(phone(1)), message(phone(2)))
    async with pool.acquire() as conn:
        mine, other = await queue.claim(
            conn, {"s1": 10}, NOW, "replica-a", NOW + timedelta(seconds=5)
        )
        later = NOW + timedelta(seconds=6)
        reclaimed = await queue.reclaim_expired_leases(
            conn, ["s1"], later, retry=True, held=[mine.message_id]
        )
        assert [r["message_id"] for r in reclaimed] == [other.message_id]
        # Its leases are renewed while the outcome is on its way; only by their owner.
        assert (
            await queue.renew_message_leases(
                conn, [mine.message_id], "replica-b", later + timedelta(seconds=60)
            )
            == set()
        )
        assert await queue.renew_message_leases(
            conn, [mine.message_id, other.message_id], "replica-a", later + timedelta(seconds=60)
        ) == {mine.message_id}
        assert (
            await queue.reclaim_expired_leases(conn, ["s1"], later + timedelta(seconds=30), True)
            == []
        )
        done = await queue.mark_sent(conn, [SentMessage(mine.message_id, 1, "wamid.1", later)])
    assert done == {mine.message_id}


async def test_concurrent_claims_never_share_a_message(pool):
    await enqueue(pool, *(message(phone(i)) for i in range(200)))

    async def claim(owner: str) -> list:
        async with pool.acquire() as conn:
            return await queue.claim(conn, {"s1": 150}, NOW, owner, NOW + timedelta(seconds=30))

    a, b = await asyncio.gather(claim("a"), claim("b"))
    ids_a, ids_b = {m.message_id for m in a}, {m.message_id for m in b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 200


async def test_an_urgent_message_is_claimed_before_the_backlog(pool):
    await enqueue(pool, *(message(phone(i), priority=3) for i in range(100)))
    reply = message(phone(999), kind="reply", priority=10)
    await enqueue(pool, reply, now=NOW + timedelta(seconds=5))
    async with pool.acquire() as conn:
        claimed = await queue.claim(
            conn, {"s1": 5}, NOW + timedelta(seconds=5), "a", NOW + timedelta(seconds=30)
        )
    assert claimed[0].message_id == reply.message_id


async def test_two_campaigns_of_one_priority_are_claimed_side_by_side(pool):
    first, second = uuid4(), uuid4()
    await enqueue(pool, *(message(phone(i), campaign_id=first) for i in range(300)))
    await enqueue(
        pool,
        *(message(phone(1000 + i), campaign_id=second) for i in range(300)),
        now=NOW + timedelta(seconds=30),
    )
    async with pool.acquire() as conn:
        claimed = await queue.claim(
            conn, {"s1": 40}, NOW + timedelta(seconds=30), "a", NOW + timedelta(minutes=1)
        )
    shares = Counter(m.campaign_id for m in claimed)
    assert abs(shares[first] - shares[second]) <= 2, shares


async def test_messages_wait_for_the_send_window_at_enqueue(pool):
    # Sundays 08:00–20:00 only; NOW is a Wednesday.
    closed = DispatcherSettings(**{**FAST, "send_on_weekdays": [6], "send_window_start": time(8)})
    event = MessagesRequested(messages=[message(phone(1)), message(phone(2), kind="reply")])
    await handlers.enqueue_requested(pool, event, NOW, PlacementCache(closed), closed)
    rows = {r["kind"]: r["due_at"] for r in await pool.fetch("SELECT kind, due_at FROM messages")}
    assert rows["reply"] == NOW  # replies answer a doctor who just wrote: never held for the window
    assert rows["campaign"] == datetime(
        2026, 11, 29, 11, 0, tzinfo=UTC
    )  # Sunday 08:00 in São Paulo


async def test_claim_probes_other_replicas_sends_by_phone_not_by_sender(pool):
    """Walking the in-flight index by sender cost ~2,000 buffers per claimed message."""
    await enqueue(pool, *(message(phone(n)) for n in range(200)))
    args = (["s1"], [80], NOW, "replica-a", NOW + timedelta(minutes=1))
    async with pool.acquire() as conn, conn.transaction():
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + queue.SQL.claim_due_messages, *args)
    assert "messages_in_flight" not in str(plan)
    assert "messages_unsettled_by_phone" in str(plan)
