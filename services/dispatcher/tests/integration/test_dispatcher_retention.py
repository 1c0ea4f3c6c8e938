"""Retention in the dispatcher: old finished messages lose phone and text, idle phones go.

Rows are written straight into the queue's tables (states and times chosen), then one pruning
pass runs with an injected cutoff, so nothing waits on a clock.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from disparo_dispatcher.privacy import prune_expired
from disparo_shared.db import create_pool
from disparo_shared.retention import prune_all
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


async def _message(db, state: str, finished_at: datetime, phone: str) -> str:
    message_id = uuid4()
    await db.execute(
        "INSERT INTO dispatcher.messages (message_id, idempotency_key, phone, kind, body,"
        " priority, time_zone, state, due_at, rank_at, max_attempts, requested_at, enqueued_at,"
        " sent_at, finished_at)"
        " VALUES ($1, $2, $3, 'reply', 'Olá, Dra.!', 5, 'America/Sao_Paulo', $4, $5, $5, 5,"
        " $5, $5, $5, $5)",
        message_id, str(message_id), phone, state, finished_at,
    )  # fmt: skip
    return str(message_id)


async def test_messages_past_retention_lose_phone_and_text_and_the_rest_keep_them(
    database_url: str, db
) -> None:
    old_sent = await _message(db, "sent", OLD, "+5511980000001")
    old_cancelled = await _message(db, "cancelled", OLD, "+5511980000002")
    old_dead = await _message(db, "dead", OLD, "+5511980000003")
    recent_sent = await _message(db, "sent", RECENT, "+5511980000004")
    old_queued = await _message(db, "queued", OLD, "+5511980000005")
    await db.execute(
        "INSERT INTO dispatcher.recipients (phone, last_sent_at, opted_out_at) VALUES"
        " ('+5511980000001', $1, NULL), ('+5511980000004', $2, NULL),"
        " ('+5511980000006', $1, $1), ('+5511980000005', $1, NULL)",
        OLD, RECENT,
    )  # fmt: skip

    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "dispatcher"
    )
    try:
        await prune_all(pool, prune_expired, NOW - timedelta(days=30), batch_size=2)
    finally:
        await pool.close()

    rows = {
        str(r["message_id"]): (r["phone"], r["body"])
        for r in await db.fetch("SELECT message_id, phone, body FROM dispatcher.all_messages")
    }
    assert rows[old_sent] == ("", "")
    assert rows[old_cancelled] == ("", "")
    assert rows[old_dead] == ("+5511980000003", "Olá, Dra.!")  # may still be re-queued
    assert rows[recent_sent] == ("+5511980000004", "Olá, Dra.!")
    assert rows[old_queued] == ("+5511980000005", "Olá, Dra.!")
    recipients = {r["phone"] for r in await db.fetch("SELECT phone FROM dispatcher.recipients")}
    # idle one forgotten; recent, opted-out and still-pending ones kept
    assert recipients == {"+5511980000004", "+5511980000006", "+5511980000005"}
