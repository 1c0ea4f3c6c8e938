"""The dispatcher forgets an erased doctor: queued messages cancelled (and announced failed for
good), kept ones blanked and never put back in line, and a message being sent at that instant
blanked as soon as its send is over."""

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from disparo_dispatcher import queue
from disparo_dispatcher.handlers import opt_out
from disparo_dispatcher.privacy import finish_pending_erasures, forget_contact
from disparo_shared.db import create_pool
from disparo_shared.events import ContactErased, ContactOptedOut
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PHONE = "+5511980000099"


async def _message(db, state: str, contact_id) -> str:
    message_id = uuid4()
    await db.execute(
        "INSERT INTO dispatcher.messages (message_id, idempotency_key, contact_id, phone, kind,"
        " body, priority, time_zone, state, due_at, rank_at, max_attempts, requested_at,"
        " enqueued_at)"
        " VALUES ($1, $2, $3, $4, 'reply', 'Olá, Dra.!', 5, 'America/Sao_Paulo', $5, $6, $6, 5,"
        " $6, $6)",
        message_id, str(message_id), contact_id, PHONE, state, NOW,
    )  # fmt: skip
    return str(message_id)


async def test_erasure_cancels_blanks_and_waits_for_the_send_in_flight(database_url, db) -> None:
    contact_id = uuid4()
    queued = await _message(db, "queued", contact_id)
    sent = await _message(db, "sent", contact_id)
    sending = await _message(db, "sending", contact_id)
    dead = await _message(db, "dead", contact_id)
    await db.execute(
        "INSERT INTO dispatcher.recipients (phone, last_sent_at) VALUES ($1, $2)", PHONE, NOW
    )
    pool = await create_pool(DatabaseSettings(url=database_url), "dispatcher")
    try:
        event = ContactErased(contact_id=contact_id, phone=PHONE, occurred_at=NOW)
        assert await forget_contact(pool, event, NOW) == 1
        assert await forget_contact(pool, event, NOW) == 0  # a redelivery changes nothing

        async def rows() -> dict[str, tuple[str, str, str]]:
            return {
                str(r["message_id"]): (r["state"], r["phone"], r["body"])
                for r in await db.fetch("SELECT message_id, state, phone, body FROM messages")
            }

        await db.execute("SET search_path = dispatcher")
        after = await rows()
        assert after[queued] == ("cancelled", "", "")
        assert after[sent] == ("sent", "", "")
        assert after[sending] == ("sending", PHONE, "Olá, Dra.!")  # its send is under way
        assert after[dead] == ("dead", "", "")
        assert await db.fetchval("SELECT count(*) FROM recipients") == 0
        announced = [
            json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]
            for r in await db.fetch("SELECT payload FROM outbox WHERE subject = 'message.failed'")
        ]
        assert [(a["message_id"], a["error_code"], a["final"]) for a in announced] == [
            (queued, "contact_erased", True)
        ]  # its campaign can complete, reports count it
        requeued = await db.fetch(queue.SQL.requeue_dead_message, dead, NOW, 1)
        assert requeued == []  # a blanked message never goes back in line

        await finish_pending_erasures(pool)  # still being sent: nothing yet
        assert (await rows())[sending][1] == PHONE
        await db.execute("UPDATE messages SET state = 'sent' WHERE message_id = $1", sending)
        await db.execute(
            "INSERT INTO recipients (phone, last_sent_at) VALUES ($1, $2)", PHONE, NOW
        )  # the send's own bookkeeping
        await finish_pending_erasures(pool)
        assert (await rows())[sending] == ("sent", "", "")
        assert await db.fetchval("SELECT count(*) FROM recipients") == 0
        assert await db.fetchval("SELECT count(*) FROM pending_erasures") == 0
    finally:
        await pool.close()


async def test_an_opt_out_said_before_the_erasure_and_arriving_after_keeps_no_phone(
    database_url, db
) -> None:
    """contact.opted_out and contact.erased reach the dispatcher through separate consumers: an
    opt-out the doctor said before the erasure must not bring the phone back. A doctor imported
    again (a new contact id) who opts out later is remembered as usual."""
    erased_contact, new_contact = uuid4(), uuid4()
    pool = await create_pool(DatabaseSettings(url=database_url), "dispatcher")
    try:
        await forget_contact(
            pool, ContactErased(contact_id=erased_contact, phone=PHONE, occurred_at=NOW), NOW
        )
        said_before = NOW - timedelta(minutes=1)
        for contact_id in (erased_contact, None):  # by contact id, and by phone alone
            late = ContactOptedOut(
                contact_id=contact_id, phone=PHONE, reason="PARAR", occurred_at=said_before
            )
            await opt_out(pool, late, NOW)
        assert await db.fetchval("SELECT count(*) FROM dispatcher.recipients") == 0

        later = NOW + timedelta(days=1)
        fresh = ContactOptedOut(
            contact_id=new_contact, phone=PHONE, reason="PARAR", occurred_at=later
        )
        await opt_out(pool, fresh, later)
        assert (
            await db.fetchval(
                "SELECT opted_out_at FROM dispatcher.recipients WHERE phone = $1", PHONE
            )
            == later
        )
    finally:
        await pool.close()
