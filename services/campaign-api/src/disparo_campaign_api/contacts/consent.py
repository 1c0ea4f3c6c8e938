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
