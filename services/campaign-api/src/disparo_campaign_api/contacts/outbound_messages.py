"""What campaign-api does with a message of ours that reached the provider (``message.sent``).

It moves the contact's ``last_outbound_at`` and ``last_contact_at`` — "last contact" is our last
message or theirs, so "inactive for 30 days" does not pick a doctor written to yesterday. The
update only ever moves forward, so a redelivered or late event changes nothing and needs no
inbox row. A message sent to a phone with no contact (``contact_id`` absent) has nobody to move.
``interactions`` stays a count of the doctor's replies: our own messages are not engagement.
"""

from pathlib import Path

import asyncpg

from disparo_shared.events import MessageSent
from disparo_shared.queries import load_queries

Q = load_queries(Path(__file__).parent / "queries.sql")


async def handle_message_sent(pool: asyncpg.Pool, event: MessageSent) -> None:
    if event.contact_id is None:
        return
    await pool.execute(Q.record_outbound_message, event.contact_id, event.sent_at)
