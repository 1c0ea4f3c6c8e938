"""A doctor's rights over their data (LGPD): erasure everywhere, and an export of what we hold.

Erasure deletes the profile and consent history here and, in the same transaction, writes
``contact.erased`` to the outbox: the dispatcher cancels the doctor's queued messages and blanks
the phone and body of those it keeps, followup drops its conversations' personal data,
reporting keeps its counts without the phone, name or reply texts. A row in
``contact_erasures`` (contact id and time only) proves it happened and makes a repeated
request a no-op. Campaign recipient rows stay, as bare contact ids, so campaign counts hold.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from disparo_campaign_api.contacts.consent import consent_history
from disparo_campaign_api.contacts.handlers import get_contact, not_found
from disparo_shared.dead_letter_erasure import forget_in_dead_letters
from disparo_shared.events import ContactErased
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

Q = load_queries(Path(__file__).parent / "privacy.sql")


async def erase_contact(conn: asyncpg.Connection, contact_id: UUID, at: datetime) -> datetime:
    """Erase the doctor (in the caller's transaction); return when they were erased.

    A contact erased before answers its first erasure's time; one never known is a 404.
    """
    phone = await conn.fetchval(Q.erase_contact, contact_id)
    if phone is None:
        erased = await conn.fetchrow(Q.find_erasure, contact_id)
        if erased is None:
            raise not_found(contact_id)
        return erased["erased_at"]
    event = ContactErased(contact_id=contact_id, phone=phone, occurred_at=at)
    await conn.execute(Q.record_erasure, contact_id, event.event_id, at)
    await forget_in_dead_letters(conn, phone, contact_id)
    await add_events(conn, [event])
    return at


async def export_contact(conn: asyncpg.Connection | asyncpg.Pool, contact_id: UUID) -> dict:
    """Everything campaign-api holds about the doctor, as plain JSON-ready data."""
    contact = await get_contact(conn, contact_id)
    campaigns: list[dict[str, Any]] = [
        dict(row) for row in await conn.fetch(Q.contact_campaigns, contact_id)
    ]
    return {
        "profile": contact.model_dump(mode="json"),
        "consent_history": await consent_history(conn, contact_id),
        "campaigns": campaigns,
    }
