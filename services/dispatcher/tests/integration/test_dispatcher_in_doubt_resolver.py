"""The in-doubt resolver against real Postgres, with an injected clock: reclaim, echoes, grace."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from dispatcher_harness import FAST, message, phone
from prometheus_client import REGISTRY

from disparo_dispatcher import handlers, in_doubt, queue
from disparo_dispatcher.doubt_policy import AT_LEAST_ONCE
from disparo_dispatcher.echo_matching import RecordedEcho, body_digest
from disparo_dispatcher.providers.sent_lookup import EVERYTHING, SentHistory
from disparo_dispatcher.queue import SentMessage, Settlement
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.webhooks.recording import record_echoes
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesRequested
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
LEASE = timedelta(seconds=5)
SETTINGS = DispatcherSettings(**FAST)
RULES = in_doubt.DoubtRules(
    grace=timedelta(seconds=30), skew=timedelta(seconds=2), time_zone="America/Sao_Paulo"
)
# Campaign messages sent again when nothing can tell (the default holds them: see below).
RESEND = replace(RULES, policies={"campaign": AT_LEAST_ONCE})


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "dispatcher"
    )
    await pool.execute(
        "INSERT INTO senders (sender_id, provider, address, base_url, credential_ref)"
        " VALUES ('s1', 'evolution', 'inst-1', 'http://x', 'k')"
    )
    yield pool
    await pool.close()


async def claimed_then_crashed(pool, *messages) -> list[queue.ClaimedMessage]:
    """Enqueue, claim as a replica that then dies, and reclaim once its lease ran out."""
    event = MessagesRequested(messages=list(messages))
    await handlers.enqueue_requested(pool, event, NOW, PlacementCache(SETTINGS), SETTINGS)
    async with pool.acquire() as conn:
        claimed = await queue.claim(conn, {"s1": 10}, NOW, "dead-replica", NOW + LEASE)
        rows = await queue.reclaim_expired_leases(
            conn, ["s1"], NOW + LEASE + timedelta(seconds=1), retry=True, in_doubt_senders=["s1"]
        )
    assert {r["state"] for r in rows} == {"in_doubt"}
    return claimed


def echo_of(claimed: queue.ClaimedMessage, key: str, at: datetime) -> RecordedEcho:
    return RecordedEcho(
        provider="evolution",
        provider_message_id=key,
        address="inst-1",
        message_id=None,
        recipient=claimed.phone,
        body_sha256=body_digest(claimed.body),
        at=at,
    )


async def state_of(pool, message_id) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT state, attempt, due_at, provider_message_id, in_doubt_since, sent_at"
        " FROM messages WHERE message_id = $1",
        message_id,
    )


async def outbox(pool) -> list[tuple[str, dict]]:
    """Events staged after the enqueue's ``message.enqueued``."""
    rows = await pool.fetch(
        "SELECT subject, payload FROM outbox WHERE subject <> 'message.enqueued' ORDER BY id"
    )
    return [(r["subject"], r["payload"]) for r in rows]


async def test_a_crashed_replicas_message_waits_in_doubt_from_its_lease_end(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    row = await state_of(pool, claimed.message_id)
    assert (row["state"], row["attempt"], row["in_doubt_since"]) == ("in_doubt", 1, NOW + LEASE)
    assert await outbox(pool) == []  # only the outcome is told


async def test_reclaim_as_retry_puts_a_crashed_replicas_message_straight_back(pool):
    event = MessagesRequested(messages=[message(phone(1))])
    await handlers.enqueue_requested(pool, event, NOW, PlacementCache(SETTINGS), SETTINGS)
    async with pool.acquire() as conn:
        await queue.claim(conn, {"s1": 10}, NOW, "dead-replica", NOW + LEASE)
        rows = await queue.reclaim_expired_leases(
            conn, ["s1"], NOW + LEASE + timedelta(seconds=1), retry=True, in_doubt_senders=[]
        )
    assert [(r["state"], r["attempt"]) for r in rows] == [("queued", 1)]


async def test_a_campaign_doubt_nothing_can_settle_is_held_counted_and_requeued_in_one_call(pool):
    [campaign] = await claimed_then_crashed(pool, message(phone(1)))
    after_grace = NOW + LEASE + RULES.grace
    async with pool.acquire() as conn:
        done = await in_doubt.resolve_all_in_doubt(conn, after_grace, RULES)
        assert (done.held, done.given_up) == (1, 0)
        # Held: later passes leave it alone, whatever the time.
        again = await in_doubt.resolve_all_in_doubt(conn, after_grace + timedelta(hours=1), RULES)
        assert again.taken == 0
    row = await state_of(pool, campaign.message_id)
    assert (row["state"], row["attempt"]) == ("in_doubt", 1)
    [(subject, payload)] = await outbox(pool)
    assert subject == "message.failed"
    assert (payload["error_code"], payload["retryable"], payload["final"]) == (
        "in_doubt",
        False,
        False,
    )
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE in_doubt_held_at IS NOT NULL")

    requeued = await handlers.requeue_held_in_doubt(pool, None, after_grace)
    assert requeued == 1
    row = await pool.fetchrow(
        "SELECT state, attempt, max_attempts, in_doubt_held_at FROM messages WHERE message_id = $1",
        campaign.message_id,
    )
    assert (row["state"], row["in_doubt_held_at"]) == ("queued", None)
    assert row["max_attempts"] > row["attempt"]
    assert await settlements(pool) == [("held", "campaign", 1), ("requeued", "campaign", 1)]


async def test_a_reply_doubt_nothing_can_settle_is_sent_again(pool):
    [reply] = await claimed_then_crashed(pool, message(phone(1), kind="reply"))
    async with pool.acquire() as conn:
        done = await in_doubt.resolve_all_in_doubt(conn, NOW + LEASE + RULES.grace, RULES)
    assert (done.held, done.given_up) == (0, 1)
    assert (await state_of(pool, reply.message_id))["state"] == "queued"
    assert await settlements(pool) == [("resent", "reply", 1)]


async def settlements(pool) -> list[tuple[str, str, int]]:
    """What the in-doubt policies touched, as the chaos run counts it."""
    rows = await pool.fetch(in_doubt.SQL.settlements_by_outcome, NOW - timedelta(days=1))
    return [(r["outcome"], r["kind"], r["messages"]) for r in rows]


def _provider_says(*histories: SentHistory | None):
    """A provider search answering ``histories`` in turn (the rule under test is ours)."""
    answers = list(histories)

    async def look_up(account, phone):
        assert account.provider == "evolution" and account.address == "inst-1"
        return answers.pop(0)

    return look_up


LOOKUP = replace(RULES, looks_up=lambda sender_id: True, echoes_from=lambda sender_id: False)


async def test_a_send_the_provider_lists_is_settled_as_sent_without_waiting_for_an_echo(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1), "Plantão domingo?"))
    listed = echo_of(claimed, "3EB0LISTED", NOW + timedelta(seconds=1))
    when = NOW + LEASE + LOOKUP.lookup_after
    async with pool.acquire() as conn:
        done = await in_doubt.resolve_all_in_doubt(
            conn, when, LOOKUP, look_up=_provider_says(SentHistory([listed], EVERYTHING))
        )
    assert (done.found, done.sent) == (1, 1)
    row = await state_of(pool, claimed.message_id)
    assert (row["state"], row["provider_message_id"]) == ("sent", "3EB0LISTED")


async def test_absence_counts_only_when_the_history_reaches_back_before_the_claim(pool):
    first, second = await claimed_then_crashed(pool, message(phone(1)), message(phone(2)))
    when = NOW + LEASE + LOOKUP.lookup_after
    # The first chat's page is full and starts after the claim: older sends are unknown.
    partial = SentHistory([], NOW + timedelta(seconds=1))
    async with pool.acquire() as conn:
        done = await in_doubt.resolve_all_in_doubt(
            conn, when, LOOKUP, look_up=_provider_says(partial, SentHistory([], EVERYTHING))
        )
    assert (done.absent, done.held) == (1, 0)
    states = {m.message_id: (await state_of(pool, m.message_id))["state"] for m in (first, second)}
    assert sorted(states.values()) == ["in_doubt", "queued"]


async def test_a_provider_that_does_not_answer_leaves_the_doubt_to_the_policy(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    due = LOOKUP.policy_due("s1", "evolution", NOW + LEASE)
    async with pool.acquire() as conn:
        early = await in_doubt.resolve_all_in_doubt(
            conn, due - timedelta(seconds=1), LOOKUP, look_up=_provider_says(None)
        )
        late = await in_doubt.resolve_all_in_doubt(conn, due, LOOKUP, look_up=_provider_says(None))
    assert (early.held, late.held) == (0, 1)
    assert (await state_of(pool, claimed.message_id))["state"] == "in_doubt"


async def test_an_echo_in_the_window_settles_the_message_as_sent_and_tells_it(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1), "Plantão no sábado?"))
    sent_at = NOW + timedelta(seconds=1)
    async with pool.acquire() as conn:
        # Repeated webhooks store the echo once.
        for _ in range(2):
            await record_echoes(conn, [echo_of(claimed, "3EB0A", sent_at)], NOW)
        assert await conn.fetchval("SELECT count(*) FROM provider_echoes") == 1
        done = await in_doubt.resolve_all_in_doubt(conn, NOW + LEASE + timedelta(seconds=2), RULES)
    assert (done.sent, done.given_up) == (1, 0)
    row = await state_of(pool, claimed.message_id)
    assert (row["state"], row["attempt"], row["provider_message_id"]) == ("sent", 1, "3EB0A")
    assert row["sent_at"] == sent_at
    [(subject, payload)] = await outbox(pool)
    assert subject == "message.sent"
    [told] = payload["messages"]
    assert (told["provider_message_id"], told["attempt"], told["sender"]) == (
        "3EB0A",
        1,
        "s1",
    )
    pacing = await pool.fetchval("SELECT last_sent_at FROM recipients WHERE phone = $1", phone(1))
    # Pair spacing counts from the latest moment it may have gone: the stamp is whole seconds.
    assert pacing == sent_at + timedelta(seconds=1)
    # A stale replica's late answer for that attempt changes nothing now.
    async with pool.acquire() as conn:
        late = [SentMessage(claimed.message_id, 1, "other", NOW)]
        assert await queue.mark_sent(conn, late) == set()


async def test_without_an_echo_it_waits_the_grace_then_goes_back_in_line(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    too_early = NOW + LEASE + RESEND.grace - timedelta(seconds=1)
    async with pool.acquire() as conn:
        assert (await in_doubt.resolve_all_in_doubt(conn, too_early, RESEND)).given_up == 0
        assert (await state_of(pool, claimed.message_id))["state"] == "in_doubt"
        after = NOW + LEASE + RESEND.grace
        assert (await in_doubt.resolve_all_in_doubt(conn, after, RESEND)).given_up == 1
    row = await state_of(pool, claimed.message_id)
    assert (row["state"], row["attempt"], row["due_at"]) == ("queued", 1, after)
    [(subject, payload)] = await outbox(pool)
    assert subject == "message.failed"
    assert (payload["error_code"], payload["retryable"], payload["final"]) == (
        "lease_expired",
        True,
        False,
    )


async def test_a_doubt_out_of_attempts_without_an_echo_is_dead(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1), max_attempts=1))
    async with pool.acquire() as conn:
        await in_doubt.resolve_all_in_doubt(conn, NOW + timedelta(minutes=5), RESEND)
    assert (await state_of(pool, claimed.message_id))["state"] == "dead"
    [(_, payload)] = await outbox(pool)
    assert payload["final"] is True


async def test_a_timed_out_call_keeps_its_backoff_when_no_echo_comes(pool):
    event = MessagesRequested(messages=[message(phone(1))])
    await handlers.enqueue_requested(pool, event, NOW, PlacementCache(SETTINGS), SETTINGS)
    backoff_until = NOW + timedelta(minutes=2)
    async with pool.acquire() as conn:
        [claimed] = await queue.claim(conn, {"s1": 10}, NOW, "r", NOW + LEASE)
        doubt = Settlement(
            claimed.message_id, 1, "in_doubt", due_at=backoff_until, error_code="timeout"
        )
        assert await queue.settle(conn, [doubt], NOW + timedelta(seconds=1)) == {claimed.message_id}
        await in_doubt.resolve_all_in_doubt(conn, NOW + timedelta(seconds=40), RESEND)
    row = await state_of(pool, claimed.message_id)
    assert (row["state"], row["due_at"]) == ("queued", backoff_until)


async def test_an_echo_owned_by_another_message_proves_nothing(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1), "Oi"))
    async with pool.acquire() as conn:
        # Another message with the same text to the same phone was sent and recorded as "K".
        event = MessagesRequested(messages=[message(phone(1), "Oi")])
        await handlers.enqueue_requested(pool, event, NOW, PlacementCache(SETTINGS), SETTINGS)
        await conn.execute(
            "UPDATE messages SET state = 'sent', provider_message_id = 'K' WHERE message_id <> $1",
            claimed.message_id,
        )
        await record_echoes(conn, [echo_of(claimed, "K", NOW + timedelta(seconds=1))], NOW)
        done = await in_doubt.resolve_all_in_doubt(conn, NOW + LEASE, RULES)
    assert done.sent == 0
    assert (await state_of(pool, claimed.message_id))["state"] == "in_doubt"


async def test_old_echoes_are_pruned(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    async with pool.acquire() as conn:
        await record_echoes(conn, [echo_of(claimed, "old", NOW)], NOW - timedelta(days=2))
        await record_echoes(conn, [echo_of(claimed, "new", NOW)], NOW)
        await in_doubt.prune_echoes(conn, NOW, timedelta(days=1))
        keys = await conn.fetch("SELECT provider_message_id FROM provider_echoes")
    assert [k["provider_message_id"] for k in keys] == ["new"]


async def test_absence_counts_only_once_the_provider_can_no_longer_take_the_call(pool):
    """Before the provider's processing horizon, "not sent" may be a request still in its
    queue: the doubt waits, and is asked about again."""
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    rules = replace(LOOKUP, processing_horizon=timedelta(seconds=30))
    since = NOW + LEASE
    nothing = SentHistory([], EVERYTHING)
    async with pool.acquire() as conn:
        early = await in_doubt.resolve_all_in_doubt(
            conn, since + rules.lookup_after, rules, look_up=_provider_says(nothing)
        )
        assert (early.absent, early.held, early.given_up) == (0, 0, 0)
        assert (await state_of(pool, claimed.message_id))["state"] == "in_doubt"
        late = await in_doubt.resolve_all_in_doubt(
            conn, since + rules.processing_horizon, rules, look_up=_provider_says(nothing)
        )
    assert late.absent == 1
    assert (await state_of(pool, claimed.message_id))["state"] == "queued"
    assert rules.policy_due("s1", "evolution", since) == since + timedelta(seconds=33)


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_person_settles_a_held_doubt_as_sent_told_and_kept(pool):
    [campaign] = await claimed_then_crashed(pool, message(phone(1)))
    after_grace = NOW + LEASE + RULES.grace
    async with pool.acquire() as conn:
        assert (await in_doubt.resolve_all_in_doubt(conn, after_grace, RULES)).held == 1
    before = _sample("disparo_dispatcher_in_doubt_verdicts_total", {"verdict": "person"})

    row = await handlers.settle_in_doubt_as_sent(pool, campaign.message_id, after_grace, "3EB0P")
    assert row is not None
    shown = await state_of(pool, campaign.message_id)
    assert (shown["state"], shown["provider_message_id"]) == ("sent", "3EB0P")
    assert shown["sent_at"] == NOW + LEASE  # the latest moment it may have gone
    subject, payload = (await outbox(pool))[-1]
    [told] = payload["messages"]
    assert (subject, told["provider_message_id"], told["kind"]) == (
        "message.sent",
        "3EB0P",
        "campaign",
    )
    assert await settlements(pool) == [("held", "campaign", 1), ("person", "campaign", 1)]
    assert _sample("disparo_dispatcher_in_doubt_verdicts_total", {"verdict": "person"}) == (
        before + 1
    )
    # Settled once: a second verdict (or a requeue) finds nothing in doubt.
    assert await handlers.settle_in_doubt_as_sent(pool, campaign.message_id, after_grace) is None
    assert await handlers.requeue_held_in_doubt(pool, None, after_grace) == 0


async def test_found_sends_are_counted_by_verdict_with_the_delay_since_the_doubt_began(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    listed = echo_of(claimed, "3EB0LATE", NOW + LEASE + timedelta(seconds=20))
    found_at = NOW + LEASE + timedelta(seconds=21)  # the provider took it 20 s late
    found_after = "disparo_dispatcher_in_doubt_found_after_seconds"
    count_before = _sample(f"{found_after}_count")
    under_20_before = _sample(f"{found_after}_bucket", {"le": "20.0"})
    under_25_before = _sample(f"{found_after}_bucket", {"le": "25.0"})
    found_before = _sample("disparo_dispatcher_in_doubt_verdicts_total", {"verdict": "found"})
    async with pool.acquire() as conn:
        done = await in_doubt.resolve_all_in_doubt(
            conn, found_at, LOOKUP, look_up=_provider_says(SentHistory([listed], EVERYTHING))
        )
    assert done.found == 1
    assert _sample("disparo_dispatcher_in_doubt_verdicts_total", {"verdict": "found"}) == (
        found_before + 1
    )
    assert _sample(f"{found_after}_count") == count_before + 1
    # 21 s after the doubt began: in the 25 s bucket, not the 20 s one.
    assert _sample(f"{found_after}_bucket", {"le": "20.0"}) == under_20_before
    assert _sample(f"{found_after}_bucket", {"le": "25.0"}) == under_25_before + 1


async def test_a_verdict_already_kept_is_not_counted_twice(pool):
    [claimed] = await claimed_then_crashed(pool, message(phone(1)))
    row = await state_of(pool, claimed.message_id)
    kept = {"message_id": claimed.message_id, "attempt": row["attempt"], "kind": "campaign"}
    before = _sample("disparo_dispatcher_in_doubt_verdicts_total", {"verdict": "held"})
    async with pool.acquire() as conn:
        await in_doubt.record_settlements(conn, [(kept, "held")], NOW)
        await in_doubt.record_settlements(conn, [(kept, "held")], NOW)
    assert _sample("disparo_dispatcher_in_doubt_verdicts_total", {"verdict": "held"}) == before + 1
