"""followup's part of LGPD: an erased doctor's conversations lose the phone, the name and
what the doctor wrote in them.

Their ids, stages and follow-up counts stay (they are counts, not a person); with no phone a
conversation is never due again, so no follow-up reaches the erased doctor. The phone's digest
is kept: an event from before the erasure that arrives after it (another stream) is applied,
then its phone forgotten again in the same transaction (``forget_late``).
``export_contact`` answers the doctor's access request.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from disparo_shared.dead_letter_erasure import forget_in_dead_letters
from disparo_shared.events import ContactErased
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "privacy.sql")


async def on_contact_erased(conn: asyncpg.Connection, event: ContactErased, phone: str) -> None:
    """Forget the doctor (``phone`` in followup's canonical form), in the caller's transaction."""
    await conn.execute(SQL.remember_erasure, phone, event.occurred_at)
    await _forget(conn, event.contact_id, phone)
    await forget_in_dead_letters(conn, phone, event.contact_id)


async def forget_late(conn: asyncpg.Connection, phones: list[str], occurred_at: datetime) -> None:
    """After applying an event: forget again those of its ``phones`` erased since it happened."""
    for row in await conn.fetch(SQL.erased_among, phones, occurred_at):
        await _forget(conn, None, row["phone"])


async def export_contact(pool: asyncpg.Pool, phone: str, contact_id: UUID) -> dict[str, Any]:
    """Everything followup holds about the doctor (LGPD access request), as JSON-ready data:
    their conversations with each timeline, and what it knows of the phone."""
    async with pool.acquire() as conn:
        conversations = await conn.fetch(SQL.export_conversations, phone, contact_id)
        ids = [row["conversation_id"] for row in conversations]
        messages = await conn.fetch(SQL.export_conversation_messages, ids)
        known = await conn.fetchrow(SQL.export_phone, phone)
    return {
        "conversations": [dict(row) for row in conversations],
        "conversation_messages": [dict(row) for row in messages],
        "phone": None if known is None else dict(known),
    }


async def _forget(conn: asyncpg.Connection, contact_id: UUID | None, phone: str) -> None:
    await conn.execute(SQL.forget_replies, contact_id, phone)
    await conn.execute(SQL.forget_conversations, contact_id, phone)
    await conn.execute(SQL.forget_phone, phone)
