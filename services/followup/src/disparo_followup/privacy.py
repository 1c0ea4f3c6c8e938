"""followup's part of LGPD: an erased doctor's conversations lose the phone and the name.

Their ids, stages and follow-up counts stay (they are counts, not a person); with no phone a
conversation is never due again, so no follow-up reaches the erased doctor.
"""

from pathlib import Path

import asyncpg

from disparo_shared.events import ContactErased
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "privacy.sql")


async def on_contact_erased(conn: asyncpg.Connection, event: ContactErased, phone: str) -> None:
    """Forget the doctor (``phone`` in followup's canonical form), in the caller's transaction."""
    await conn.execute(SQL.forget_conversations, event.contact_id, phone)
    await conn.execute(SQL.forget_phone, phone)
