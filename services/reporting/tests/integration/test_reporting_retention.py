"""Retention in reporting: messages and replies older than the cutoff keep counts, not phones."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from disparo_reporting.privacy import prune_expired
from disparo_shared.db import create_pool
from disparo_shared.retention import prune_all
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=5)


async def test_old_messages_and_replies_lose_phone_name_and_words(database_url: str, db) -> None:
    old_id, recent_id = uuid4(), uuid4()
    await db.execute(
        "INSERT INTO reporting.messages (message_id, phone, contact_name, state, sent_at)"
        " VALUES ($1, '+5511980000011', 'Dra. Antiga', 'read', $2),"
        " ($3, '+5511980000012', 'Dra. Recente', 'sent', $4)",
        old_id, OLD, recent_id, RECENT,
    )  # fmt: skip
    await db.execute(
        "INSERT INTO reporting.replies (event_id, phone, at, message_id, preview)"
        " VALUES ($1, '+5511980000011', $2, $3, 'Sim, tenho'),"
        " ($4, '+5511980000012', $5, $6, 'Pode ser')",
        uuid4(), OLD, old_id, uuid4(), RECENT, recent_id,
    )  # fmt: skip

    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "reporting"
    )
    try:
        await prune_all(pool, prune_expired, NOW - timedelta(days=90))
    finally:
        await pool.close()

    messages = {
        r["message_id"]: (r["phone"], r["contact_name"], r["state"])
        for r in await db.fetch("SELECT * FROM reporting.messages")
    }
    phone, name, state = messages[old_id]
    assert phone.startswith("expired:") and (name, state) == (None, "read")
    assert messages[recent_id] == ("+5511980000012", "Dra. Recente", "sent")
    replies = {
        r["message_id"]: (r["phone"], r["preview"])
        for r in await db.fetch("SELECT * FROM reporting.replies")
    }
    assert replies[old_id] == (phone, None)  # one pseudonym per doctor; still a reply to it
    assert replies[recent_id] == ("+5511980000012", "Pode ser")
