"""followup's part of LGPD: an erased doctor's conversations lose the phone, the name and
what the doctor wrote in them.

Their ids, stages and follow-up counts stay (they are counts, not a person); with no phone a
conversation is never due again, so no follow-up reaches the erased doctor. The phone's digest
is kept: an event from before the erasure that arrives after it (another stream) is applied,
then its phone forgotten again in the same transaction (``forget_late``).
"""

from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_shared.events import ContactErased
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "privacy.sql")


async def on_contact_erased(conn: asyncpg.Connection, event: ContactErased, phone: str) -> None:
    """Forget the doctor (``phone`` in followup's canonical form), in the caller's transaction."""
    await conn.execute(SQL.remember_erasure, phone, event.occurred_at)
    await _forget(conn, event.contact_id, phone)


async def forget_late(conn: asyncpg.Connection, phones: list[str], occurred_at: datetime) -> None:
    """After applying an event: forget again those of its ``phones`` erased since it happened."""
    for row in await conn.fetch(SQL.erased_among, phones, occurred_at):
        await _forget(conn, None, row["phone"])


async def _forget(conn: asyncpg.Connection, contact_id: UUID | None, phone: str) -> None:
    await conn.execute(SQL.forget_replies, contact_id, phone)
    await conn.execute(SQL.forget_conversations, contact_id, phone)
    await conn.execute(SQL.forget_phone, phone)
