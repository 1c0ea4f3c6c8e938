"""Finished messages leave the hot queue table for ``messages_archive`` (archive.py), and
everything that reads or changes finished messages still finds them there: exactly-once intake,
dead-letter re-queue, erasure, retention. Rows are written straight into the tables (states and
times chosen) and the archiver runs with an injected time, so nothing waits on a clock; one test
runs the real dispatcher, archiving as soon as a message is sent."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from dispatcher_harness import (
    collect,
    dispatcher,
    evolution_sender,
    message,
    phone,
    publish,
    request,
    simulator,
)

from disparo_dispatcher import archive, queue
from disparo_dispatcher.handlers import KEY_TAKEN, requeue_dead_for_campaign, requeue_dead_message
from disparo_dispatcher.operator_gauges import QueueReading
from disparo_dispatcher.privacy import forget_contact, prune_expired
from disparo_shared.db import create_pool
from disparo_shared.events import ContactErased, MessagesRequested
from disparo_shared.retention import prune_all
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SETTLE = timedelta(seconds=60)
PHONE = "+5511980000077"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "dispatcher"
    )
    yield pool
    await pool.close()


async def _message(
    pool: asyncpg.Pool,
    state: str,
    finished_at: datetime | None,
    *,
    campaign_id: UUID | None = None,
    contact_id: UUID | None = None,
    phone_number: str = PHONE,
) -> UUID:
    """A message as the queue holds it, with its key taken as the intake takes it."""
    message_id = uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO messages (message_id, idempotency_key, contact_id, phone, kind, body,"
            " priority, campaign_id, time_zone, state, due_at, rank_at, attempt, max_attempts,"
            " sender_id, provider_message_id, requested_at, enqueued_at, sent_at, finished_at)"
            " VALUES ($1, $2, $3, $4, 'campaign', 'Olá, Dra.!', 5, $5, 'America/Sao_Paulo', $6,"
            " $7, $7, 1, 1, 's1', $8, $7, $7, $9, $10)",
            message_id, f"test:{message_id}", contact_id, phone_number, campaign_id, state,
            NOW - timedelta(hours=1), f"wamid.{message_id}" if state == "sent" else None,
            finished_at if state == "sent" else None, finished_at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO message_keys (idempotency_key, message_id) VALUES ($1, $2)",
            f"test:{message_id}",
            message_id,
        )
    return message_id


async def _where(pool: asyncpg.Pool) -> dict[UUID, str]:
    """Each message's table: 'hot' or 'archive'."""
    rows = await pool.fetch(
        "SELECT message_id, 'hot' AS t FROM messages"
        " UNION ALL SELECT message_id, 'archive' FROM messages_archive"
    )
    return {r["message_id"]: r["t"] for r in rows}


async def test_finished_messages_move_after_their_settle_time_and_not_before(pool):
    long_sent = await _message(pool, "sent", NOW - SETTLE - timedelta(seconds=1))
    dead = await _message(pool, "dead", NOW - timedelta(minutes=5))
    cancelled = await _message(pool, "cancelled", NOW - timedelta(hours=2))
    just_sent = await _message(pool, "sent", NOW - SETTLE + timedelta(seconds=1))
    pending = [await _message(pool, s, None) for s in ("queued", "held", "sending", "in_doubt")]
    before = await pool.fetchrow("SELECT * FROM messages WHERE message_id = $1", long_sent)

    # In batches of two: the oldest first, until a batch comes back short.
    assert await archive.archive_finished(pool, NOW, SETTLE, batch_size=2) == 3

    where = await _where(pool)
    assert {m for m, t in where.items() if t == "archive"} == {long_sent, dead, cancelled}
    assert {m for m, t in where.items() if t == "hot"} == {just_sent, *pending}
    moved = await pool.fetchrow("SELECT * FROM messages_archive WHERE message_id = $1", long_sent)
    assert dict(moved) == dict(before)  # every column, as it was
    assert await archive.archive_finished(pool, NOW, SETTLE, batch_size=2) == 0
    # Later, the one that had just been sent goes too; what is not finished never does.
    assert await archive.archive_finished(pool, NOW + SETTLE, SETTLE, batch_size=2) == 1
    assert {m for m, t in (await _where(pool)).items() if t == "hot"} == set(pending)
    # Readers of finished messages see them wherever they are.
    row = await pool.fetchrow(queue.SQL.get_message, long_sent)
    assert (row["state"], row["provider_message_id"]) == ("sent", f"wamid.{long_sent}")
    sent_today = await pool.fetch(queue.SQL.count_sent_since, ["s1"], NOW - timedelta(hours=3))
    assert [(r["sender_id"], r["sent"]) for r in sent_today] == [("s1", 2)]


async def test_only_one_replica_moves_at_a_time(pool):
    await _message(pool, "sent", NOW - timedelta(hours=1))
    async with pool.acquire() as other_replica, other_replica.transaction():
        assert await other_replica.fetchval(archive.SQL.try_archive_turn)
        assert await archive.archive_finished(pool, NOW, SETTLE, batch_size=10) == 0
    assert await archive.archive_finished(pool, NOW, SETTLE, batch_size=10) == 1


async def test_an_enqueue_racing_a_move_of_the_same_message_adds_nothing(pool):
    """The move is held open (deleted from the hot table, not committed) while the same
    message, and a new one reusing its key, are enqueued: the keys table turns both away, where
    a unique index on the hot table would have waited for the move and then let them in."""
    sent = await _message(pool, "sent", NOW - timedelta(hours=1))
    row = await pool.fetchrow("SELECT * FROM messages WHERE message_id = $1", sent)

    def again(message_id: UUID) -> queue.NewMessage:
        return queue.NewMessage(
            message_id=message_id, idempotency_key=row["idempotency_key"], contact_id=None,
            phone=PHONE, kind="campaign", body="Olá, Dra.!", priority=5, campaign_id=None,
            conversation_id=None, max_attempts=1, time_zone="America/Sao_Paulo", due_at=NOW,
            rank_at=NOW,
        )  # fmt: skip

    async def enqueue(messages: list[queue.NewMessage]) -> list[asyncpg.Record]:
        async with pool.acquire() as conn, conn.transaction():
            return await queue.insert_messages(conn, messages, NOW, NOW, ["s1"], [1])

    async with pool.acquire() as mover:
        moving = mover.transaction()
        await moving.start()
        assert await mover.fetchval(archive.SQL.try_archive_turn)
        assert await mover.execute(archive.SQL.archive_finished, NOW - SETTLE, 10) == "INSERT 0 1"
        intake = asyncio.create_task(enqueue([again(sent), again(uuid4())]))
        await asyncio.sleep(0.2)  # give the intake its chance to slip in before the commit
        await moving.commit()
    assert await intake == []
    assert await _where(pool) == {sent: "archive"}
    assert await pool.fetchval("SELECT count(*) FROM all_messages") == 1


async def test_one_request_naming_a_key_twice_keeps_one_message(pool):
    """The keys are taken in the statement that inserts the messages: of two messages of one
    request sharing a key, one is inserted and one is turned away, never both."""

    def keyed(key: str) -> queue.NewMessage:
        return queue.NewMessage(
            message_id=uuid4(), idempotency_key=key, contact_id=None, phone=PHONE,
            kind="campaign", body="Olá, Dra.!", priority=5, campaign_id=None,
            conversation_id=None, max_attempts=1, time_zone="America/Sao_Paulo", due_at=NOW,
            rank_at=NOW,
        )  # fmt: skip

    twins = [keyed("twin-key"), keyed("twin-key"), keyed("single-key")]
    async with pool.acquire() as conn, conn.transaction():
        inserted = await queue.insert_messages(conn, twins, NOW, NOW, ["s1"], [1])
    kept = {r["message_id"] for r in inserted}
    assert len(kept) == 2 and twins[2].message_id in kept
    assert len(kept & {twins[0].message_id, twins[1].message_id}) == 1
    keys = await pool.fetch("SELECT idempotency_key, message_id FROM message_keys")
    assert {(r["idempotency_key"], r["message_id"]) for r in keys} == {
        (m.idempotency_key, m.message_id) for m in twins if m.message_id in kept
    }


async def test_a_redelivered_request_for_an_archived_message_is_not_sent_again(kernel_settings, db):
    overrides = dict(archive_after_seconds=0, archive_interval_seconds=0.05)
    async with (
        simulator() as sim,
        collect(kernel_settings.nats, "message.failed") as failed,
        dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")], **overrides),
    ):
        first = message(phone(1))
        event = await request(kernel_settings.nats, first)

        async def archived() -> bool:
            return await db.fetchval(
                "SELECT state FROM dispatcher.messages_archive WHERE message_id = $1",
                first.message_id,
            ) == "sent"  # fmt: skip

        await eventually(archived)
        # The same event again, the same message in a new event, and a new message reusing
        # its idempotency key: none adds a row or a send; the last fails, visibly.
        await publish(kernel_settings.nats, event)
        taken = message(phone(2), idempotency_key=first.idempotency_key)
        await publish(kernel_settings.nats, MessagesRequested(messages=[first, taken]))

        async def taken_failed() -> bool:
            return any(e["message_id"] == str(taken.message_id) for e in failed)

        await eventually(taken_failed)
        marker = message(phone(3))  # sent after the redeliveries were handled, in order
        await request(kernel_settings.nats, marker)

        async def marker_sent() -> bool:
            return await db.fetchval(
                "SELECT count(*) FROM dispatcher.all_messages"
                " WHERE message_id = $1 AND state = 'sent'",
                marker.message_id,
            ) == 1  # fmt: skip

        await eventually(marker_sent)
    assert sim.stats()["accepted"] == 2 and sim.stats()["duplicates"] == 0
    assert await db.fetchval("SELECT count(*) FROM dispatcher.all_messages") == 2
    [dropped] = [e for e in failed if e["message_id"] == str(taken.message_id)]
    assert dropped["error_code"] == KEY_TAKEN
    assert [e for e in failed if e["message_id"] == str(first.message_id)] == []


async def test_archived_dead_letters_can_be_requeued_one_by_one_or_per_campaign(pool):
    campaign = uuid4()
    one = await _message(pool, "dead", NOW - timedelta(hours=1))
    of_campaign = [await _message(pool, "dead", NOW - timedelta(hours=1), campaign_id=campaign)]
    of_campaign.append(await _message(pool, "dead", NOW, campaign_id=campaign))  # not moved yet
    await archive.archive_finished(pool, NOW, SETTLE, batch_size=10)
    assert (await _where(pool))[one] == "archive"

    row = await requeue_dead_message(pool, one, NOW, 2)
    assert row is not None and row["message_id"] == one
    assert await requeue_dead_message(pool, one, NOW, 2) is None  # not dead any more
    assert await requeue_dead_for_campaign(pool, campaign, NOW, 1) == 2

    where = await _where(pool)
    assert {where[m] for m in (one, *of_campaign)} == {"hot"}
    states = await pool.fetch(
        "SELECT state, attempt, max_attempts, finished_at FROM messages WHERE message_id = $1",
        one,
    )
    assert [tuple(r) for r in states] == [("queued", 1, 3, None)]
    # Their keys still stand: a redelivery of any of them is skipped.
    assert await pool.fetchval("SELECT count(*) FROM message_keys") == 3


async def test_erasure_blanks_the_archived_messages_too(pool):
    contact_id = uuid4()
    by_contact = await _message(pool, "sent", NOW - timedelta(hours=1), contact_id=contact_id)
    by_phone = await _message(pool, "dead", NOW - timedelta(hours=1))
    someone_else = await _message(
        pool, "sent", NOW - timedelta(hours=1), phone_number="+5511980000078"
    )
    await archive.archive_finished(pool, NOW, SETTLE, batch_size=10)

    await forget_contact(
        pool, ContactErased(contact_id=contact_id, phone=PHONE, occurred_at=NOW), NOW
    )

    rows = {
        r["message_id"]: (r["phone"], r["body"])
        for r in await pool.fetch("SELECT message_id, phone, body FROM messages_archive")
    }
    assert rows[by_contact] == ("", "") and rows[by_phone] == ("", "")
    assert rows[someone_else] == ("+5511980000078", "Olá, Dra.!")
    assert await requeue_dead_message(pool, by_phone, NOW, 1) is None  # erased: never resent


async def test_retention_blanks_then_deletes_archived_messages_and_their_keys(pool):
    very_old = await _message(pool, "sent", NOW - timedelta(days=100))
    old = await _message(pool, "sent", NOW - timedelta(days=40))
    old_dead = await _message(pool, "dead", NOW - timedelta(days=40))
    recent = await _message(pool, "sent", NOW - timedelta(days=2))
    await archive.archive_finished(pool, NOW, SETTLE, batch_size=10)

    # LGPD: 30 days, phone and text go (dead letters keep theirs, to be re-queued).
    await prune_all(pool, prune_expired, NOW - timedelta(days=30), batch_size=1)
    rows = {
        r["message_id"]: r["body"]
        for r in await pool.fetch("SELECT message_id, body FROM messages_archive")
    }
    assert rows == {very_old: "", old: "", old_dead: "Olá, Dra.!", recent: "Olá, Dra.!"}

    # Past the archive's retention (90 days here), a row goes, with its key.
    assert await prune_all(pool, archive.prune_archive, NOW - timedelta(days=90), batch_size=1) == 1
    assert set(await _where(pool)) == {old, old_dead, recent}
    keys = {r["message_id"] for r in await pool.fetch("SELECT message_id FROM message_keys")}
    assert keys == {old, old_dead, recent}


async def test_one_reading_counts_the_backlog_and_ages_the_oldest_message_due(pool):
    await _message(pool, "queued", None)  # due an hour ago
    waiting_for_a_limit = await _message(pool, "queued", None)
    await pool.execute(
        "UPDATE messages SET due_at = $2 WHERE message_id = $1",
        waiting_for_a_limit,
        NOW + timedelta(minutes=5),
    )
    await _message(pool, "sending", None)  # due an hour ago too, but on its way
    await _message(pool, "dead", NOW)
    reading = QueueReading.from_rows(NOW, await queue.queue_reading(pool, NOW))
    depth = {(r["state"], r["priority"]): r["messages"] for r in reading.depth}
    assert depth == {("queued", 5): 2, ("sending", 5): 1, ("dead", 5): 1}
    assert reading.oldest_due == [{"priority": 5, "age_seconds": 3600.0}]


async def test_the_dead_letters_gauge_counts_the_archived_ones(pool):
    await _message(pool, "dead", NOW - timedelta(hours=1))
    await _message(pool, "dead", NOW)
    await archive.archive_finished(pool, NOW, SETTLE, batch_size=10)
    reading = QueueReading.from_rows(NOW, await queue.queue_reading(pool, NOW))
    assert reading.depth == [{"state": "dead", "priority": 5, "messages": 2}]
    assert [dict(r) for r in await queue.dead_by_code(pool)] == [{"code": "unknown", "messages": 2}]


async def test_a_recorded_send_goes_straight_to_the_archive_with_every_other_column_kept(pool):
    sending = await _message(pool, "sending", None)
    await pool.execute(
        "UPDATE messages SET lease_owner = 'r1', lease_until = $2, trace_context = '\\x01',"
        " claimed_at = $3 WHERE message_id = $1",
        sending, NOW + timedelta(minutes=5), NOW,
    )  # fmt: skip
    stale = await _message(pool, "sending", None)
    before = dict(await pool.fetchrow("SELECT * FROM messages WHERE message_id = $1", sending))
    sent_at = NOW + timedelta(seconds=2)

    async with pool.acquire() as conn:
        recorded = await queue.mark_sent(
            conn,
            [
                queue.SentMessage(sending, 1, "wamid.sent", sent_at, b"\x02"),
                queue.SentMessage(stale, 2, "wamid.stale", sent_at),  # a reclaimed attempt's
            ],
        )

    assert recorded == {sending}
    assert await _where(pool) == {sending: "archive", stale: "hot"}
    after = dict(
        await pool.fetchrow("SELECT * FROM messages_archive WHERE message_id = $1", sending)
    )
    changed = {
        "state": "sent", "provider_message_id": "wamid.sent", "sent_at": sent_at,
        "finished_at": sent_at, "lease_owner": None, "lease_until": None, "trace_context": b"\x02",
    }  # fmt: skip
    assert after == before | changed  # and every column not named here, as it was


async def test_the_send_records_insert_names_every_column_of_the_hot_table(pool):
    # mark_sent moves a sending row to the archive naming each column: one added to `messages`
    # and left out there would be silently lost (the archive's default) for every sent message.
    hot = await pool.fetchval(
        "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute"
        " WHERE attrelid = 'messages'::regclass AND attnum > 0 AND NOT attisdropped"
    )
    insert = queue.SQL.mark_sent.split("INSERT INTO messages_archive (", 1)[1].split(")", 1)[0]
    assert [column.strip() for column in insert.split(",")] == hot


async def test_the_archive_and_the_view_have_the_hot_tables_columns_in_its_order(pool):
    # The archiver moves rows with INSERT … SELECT *: a column added to `messages` alone would
    # shift every later one, or fail the move. This says which table to fix.
    columns = """
        SELECT array_agg(attname || ' ' || format_type(atttypid, atttypmod) ORDER BY attnum)
        FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
    """
    hot = await pool.fetchval(columns, "messages")
    assert "idempotency_key text" in hot
    assert await pool.fetchval(columns, "messages_archive") == hot
    assert await pool.fetchval(columns, "all_messages") == hot
