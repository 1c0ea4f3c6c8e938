"""The dispatcher's part of LGPD: forgetting an erased doctor, and pruning past retention.

``export_contact`` answers a doctor's access request: what the queue holds about them.

On ``contact.erased`` the doctor's queued, held and in-doubt messages are cancelled (never
sent), every kept message of theirs loses its phone and text, and the recipient row (sticky
sender, pacing) is deleted; a message being sent at that instant finishes, and ``pending_erasures``
blanks it right after (the phone waits there no longer than that send). Retention blanks
phone and text of messages sent or cancelled more than
``message_retention_days`` ago, and forgets idle phones that never opted out.

``erased_contacts`` remembers the erasure (contact id, the phone's digest, when; no phone):
``contact.erased`` and ``messages.requested`` travel on different streams, so a message
requested before the erasure can reach the queue after it. Intake (``queue.sql``
``enqueue_messages``) cancels such a message (``contact_erased``) and stores neither its phone
nor its text. A doctor imported again is a new contact id, and is not blocked.
"""

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from disparo_dispatcher import archive
from disparo_shared.dead_letter_erasure import forget_in_dead_letters
from disparo_shared.events import ContactErased, MessageFailed
from disparo_shared.inbox import first_delivery
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "privacy.sql")
ERASURE_CONSUMER = "dispatcher.contact_erased"
CONTACT_ERASED = "contact_erased"  # the error code of a message not sent for that reason


async def forget_contact(pool: asyncpg.Pool, event: ContactErased, now: datetime) -> int:
    """Apply an erasure once; returns how many queued messages were cancelled."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, ERASURE_CONSUMER, event.event_id):
            return 0
        await conn.execute(
            SQL.remember_erased_contact, event.contact_id, event.phone, event.occurred_at
        )
        cancelled = await conn.fetch(
            SQL.cancel_pending_of_erased, event.phone, now, event.contact_id
        )
        await add_events(conn, [erased_message(row) for row in cancelled])
        # Held before blanking: a send that ends between the two statements is then either
        # still 'sending' here (held, blanked once over) or already finished there (blanked).
        await conn.execute(SQL.hold_erasure_for_sends, event.phone, event.contact_id, now)
        await archive.wait_turn(conn)  # no row is half-way to the archive while we blank
        await conn.execute(SQL.blank_erased_messages, event.phone, event.contact_id)
        await conn.execute(SQL.forget_recipient, event.phone)
        await forget_in_dead_letters(conn, event.phone, event.contact_id)
        return len(cancelled)


def erased_message(row: asyncpg.Record) -> MessageFailed:
    """A message that will never be sent because its doctor was erased: final, so the campaign
    it belongs to can complete and reports count it."""
    return MessageFailed(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        attempt=0,
        error_code=CONTACT_ERASED,
        error="not sent: the contact was erased",
        retryable=False,
        final=True,
    )


async def export_contact(pool: asyncpg.Pool, phone: str, contact_id: UUID) -> dict[str, Any]:
    """Everything the queue holds about the doctor (LGPD access request), as JSON-ready data:
    their messages (texts included), the phone's recipient row and 24 h windows."""
    async with pool.acquire() as conn:
        messages = await conn.fetch(SQL.export_messages, phone, contact_id)
        recipient = await conn.fetchrow(SQL.export_recipient, phone)
        windows = await conn.fetch(SQL.export_windows, phone)
    return {
        "messages": [_json_ready(row) for row in messages],
        "recipient": None if recipient is None else _json_ready(recipient),
        "conversation_windows": [_json_ready(row) for row in windows],
    }


def _json_ready(row: asyncpg.Record) -> dict[str, Any]:
    return {
        key: json.loads(value) if key == "template" and isinstance(value, str) else value
        for key, value in dict(row).items()
    }


async def finish_pending_erasures(pool: asyncpg.Pool) -> None:
    """Blank the messages that were being sent when their doctor was erased, once sent."""
    async with pool.acquire() as conn, conn.transaction():
        await archive.wait_turn(conn)
        await conn.execute(SQL.finish_pending_erasures)


def pending_erasures_worker(interval_seconds: float):
    """A runtime worker finishing held erasures every ``interval_seconds``."""

    async def pending_erasures(runtime) -> None:
        while True:
            await finish_pending_erasures(runtime.pool)
            await asyncio.sleep(interval_seconds)

    return pending_erasures


async def prune_expired(pool: asyncpg.Pool, cutoff: datetime, batch_size: int) -> int:
    """One batch of retention: blanked messages (hot and archived) plus forgotten phones. A
    row moved to the archive while its blanking waited for it is blanked there next pass."""
    async with pool.acquire() as conn:
        blanked = await conn.execute(SQL.blank_expired_messages, cutoff, batch_size)
        archived = await conn.execute(SQL.blank_expired_archived, cutoff, batch_size)
        forgotten = await conn.execute(SQL.forget_idle_recipients, cutoff, batch_size)
    return max(_count(blanked), _count(archived), _count(forgotten))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
