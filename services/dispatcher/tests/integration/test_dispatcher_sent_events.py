"""A flush's sends are told as batched ``message.sent`` events, against real Postgres.

The sends are claimed as the send loop claims them and recorded by ``recording.record_sent``,
the flush's own step, so which sends share an event does not depend on the loop's timing.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from dispatcher_harness import FAST, message, phone

from disparo_dispatcher import handlers, queue, recording
from disparo_dispatcher.providers.base import Accepted
from disparo_dispatcher.queue import SentMessage
from disparo_dispatcher.results import Outcome
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesRequested, MessagesSent
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SETTINGS = DispatcherSettings(**FAST)
TRACE_A = bytes(range(24))
TRACE_B = bytes(range(1, 25))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "dispatcher"
    )
    await pool.execute(
        "INSERT INTO senders (sender_id, provider, address, base_url, credential_ref)"
        " VALUES ('s1', 'evolution', 'inst-1', 'http://x', 'k')"
    )
    yield pool
    await pool.close()


async def claimed_and_answered(pool, count: int, traces: list[bytes | None]) -> list[Outcome]:
    requested = MessagesRequested(messages=[message(phone(i)) for i in range(count)])
    await handlers.enqueue_requested(pool, requested, NOW, PlacementCache(SETTINGS), SETTINGS)
    async with pool.acquire() as conn:
        claimed = await queue.claim(conn, {"s1": count}, NOW, "me", NOW + timedelta(seconds=5))
    claimed.sort(key=lambda m: m.phone)
    answered = NOW + timedelta(seconds=1)
    outcomes = []
    for i, (m, trace_context) in enumerate(zip(claimed, traces, strict=True)):
        m.trace_context = trace_context
        outcomes.append(Outcome("s1", m, Accepted(f"3EB0{i:04d}"), answered))
    return outcomes


async def record(pool, outcomes: list[Outcome]):
    sent = [
        SentMessage(
            o.message.message_id, o.message.attempt, o.result.provider_message_id, o.finished_at
        )
        for o in outcomes
    ]
    async with pool.acquire() as conn, conn.transaction():
        return await recording.record_sent(conn, sent, outcomes, NOW.date())


async def test_a_flushs_sends_are_one_event_each_send_as_its_row_says(pool):
    outcomes = await claimed_and_answered(pool, 5, [None] * 5)
    confirmed, events, traced = await record(pool, outcomes)
    assert confirmed == {o.message.message_id for o in outcomes}
    [event] = [MessagesSent.model_validate(orjson.loads(e.payload)) for e in events]
    told = {m.message_id: m for m in event.messages}
    assert set(told) == confirmed
    rows = await pool.fetch("SELECT * FROM all_messages WHERE state = 'sent'")
    assert len(rows) == 5
    for row in rows:
        m = told[row["message_id"]]
        assert (m.provider_message_id, m.sender, m.attempt, m.sent_at) == (
            row["provider_message_id"],
            "s1",
            row["attempt"],
            row["sent_at"],
        )
        assert (m.kind, m.campaign_id) == ("campaign", None)
    assert traced == {}  # no send of the flush was traced


async def test_sends_beyond_an_events_size_make_more_events(pool, monkeypatch):
    monkeypatch.setattr(recording, "SENT_PER_EVENT", 2)
    outcomes = await claimed_and_answered(pool, 5, [None] * 5)
    _, events, _ = await record(pool, outcomes)
    sizes = [len(orjson.loads(e.payload)["messages"]) for e in events]
    assert sizes == [2, 2, 1]


async def test_an_event_whose_sends_share_a_trace_is_told_in_it(pool, monkeypatch):
    monkeypatch.setattr(recording, "SENT_PER_EVENT", 2)
    outcomes = await claimed_and_answered(pool, 5, [TRACE_A, TRACE_A, TRACE_A, TRACE_B, None])
    _, events, traced = await record(pool, outcomes)
    # One trace for both sends: that trace. Two traces, or a send traced beside one that is
    # not: the flush's span, which links to the sends (``send_links``).
    assert traced == {events[0].event_id: TRACE_A}
    links = recording.send_links(outcomes)
    assert [link.context.span_id for link in links] == [
        int.from_bytes(t[16:], "big") for t in (TRACE_A, TRACE_A, TRACE_A, TRACE_B)
    ]
