"""Opt-out and opt-in of a contact, kept forever in ``opt_outs`` and announced on the bus.

LGPD asks to honour a "stop" and to be able to show when and why it was recorded: each change
writes the contact's state, one history row (when, why, from where) and the ``contact.opted_out``
/ ``contact.opted_in`` event, in the caller's transaction. Repeating an opt-out changes nothing
(the first one's when and why stay), so redeliveries and double clicks are harmless.
"""

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_campaign_api.contacts.handlers import Contact, get_contact, to_contact
from disparo_shared.events import ContactOptedIn, ContactOptedOut
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

Q = load_queries(Path(__file__).parent / "queries.sql")


class ConsentSource(StrEnum):
    API = "api"
    INBOUND_MESSAGE = "inbound_message"
    IMPORT = "import"  # a row whose status is the spec's marker, ``optout``
    PROVIDER = "provider"  # the provider refused a send (Cloud 131050), told by the dispatcher


async def opt_out(
    conn: asyncpg.Connection,
    contact_id: UUID,
    *,
    reason: str,
    source: ConsentSource,
    at: datetime,
    source_ref: str | None = None,
) -> Contact:
    """Opt the contact out (404 problem if unknown); no-op when it already is."""
    row = await conn.fetchrow(Q.mark_opted_out, contact_id, at, reason)
    if row is None:
        return await get_contact(conn, contact_id)
    event = ContactOptedOut(
        contact_id=contact_id, phone=row["phone"], reason=reason, occurred_at=at
    )
    await conn.execute(
        Q.record_consent_change,
        contact_id, row["phone"], "opted_out", reason, source.value, source_ref, event.event_id, at,
    )  # fmt: skip
    await add_events(conn, [event])
    return to_contact(row)


async def opt_out_phones(
    conn: asyncpg.Connection,
    phones: list[str],
    *,
    reason: str,
    source: ConsentSource,
    at: datetime,
) -> int:
    """Opt out, in one statement, every contact of ``phones`` not out yet; returns how many.

    The set-based form of ``opt_out`` for the bulk import: the same state, history row and
    ``contact.opted_out`` event per contact, and the same no-op for one already out.
    """
    rows = await conn.fetch(Q.mark_phones_opted_out, phones, at, reason)
    if not rows:
        return 0
    events = [
        ContactOptedOut(contact_id=r["id"], phone=r["phone"], reason=reason, occurred_at=at)
        for r in rows
    ]
    await conn.execute(
        Q.record_consent_changes,
        [r["id"] for r in rows], [r["phone"] for r in rows], "opted_out", reason, source.value,
        [e.event_id for e in events], at,
    )  # fmt: skip
    await add_events(conn, events)
    return len(rows)


async def record_reported_opt_out(
    conn: asyncpg.Connection, event: ContactOptedOut, source: ConsentSource
) -> bool:
    """Apply an opt-out another service already announced; True if it changed the contact.

    The fact is on the bus already, so nothing is published again: the history row keeps the
    announcing event's id (which also makes a redelivery a no-op). The contact is found by
    phone — created when unknown, so the refusal is kept — and an opt-in recorded after the
    event's ``occurred_at`` wins over it (a late delivery must not undo a newer consent).
    """
    if await conn.fetchval(Q.consent_event_recorded, event.event_id):
        return False  # ours (published by this service) or a redelivery
    if await conn.fetchval(Q.opted_in_since, event.phone, event.occurred_at):
        return False
    contact_id = await conn.fetchval(Q.find_or_create_contact, event.phone)
    row = await conn.fetchrow(Q.mark_opted_out, contact_id, event.occurred_at, event.reason)
    if row is None:
        return False
    await conn.execute(
        Q.record_consent_change,
        contact_id, row["phone"], "opted_out", event.reason, source.value, None, event.event_id,
        event.occurred_at,
    )  # fmt: skip
    return True


async def opt_in(
    conn: asyncpg.Connection,
    contact_id: UUID,
    *,
    reason: str | None,
    source: ConsentSource,
    at: datetime,
    consent_reference: str,
) -> Contact:
    """Opt the contact back in (404 problem if unknown); no-op when it was not out.

    ``consent_reference`` says where the doctor's renewed consent is kept (history's
    ``source_ref``): an opt-in without proof of consent is not accepted (LGPD).
    """
    row = await conn.fetchrow(Q.mark_opted_in, contact_id)
    if row is None:
        return await get_contact(conn, contact_id)
    event = ContactOptedIn(contact_id=contact_id, phone=row["phone"], occurred_at=at)
    await conn.execute(
        Q.record_consent_change,
        contact_id, row["phone"], "opted_in", reason, source.value, consent_reference,
        event.event_id, at,
    )  # fmt: skip
    await add_events(conn, [event])
    return to_contact(row)


async def consent_history(conn: asyncpg.Connection | asyncpg.Pool, contact_id: UUID) -> list[dict]:
    await get_contact(conn, contact_id)
    return [dict(r) for r in await conn.fetch(Q.list_consent_changes, contact_id)]
