"""What campaign-api does with messages of ours that reached the provider (``message.sent``).

It moves each contact's ``last_outbound_at`` and ``last_contact_at`` — "last contact" is our last
message or theirs, so "inactive for 30 days" does not pick a doctor written to yesterday. An event
holds one dispatcher flush (up to about 1,000 sends), applied by one statement: a contact named
several times moves to its latest send. The update only ever moves forward, so a redelivered or
late event changes nothing and needs no inbox row. A message sent to a phone with no contact
(``contact_id`` absent) has nobody to move. ``interactions`` stays a count of the doctor's
replies: our own messages are not engagement.
"""

from pathlib import Path

import asyncpg

from disparo_shared.events import MessagesSent
from disparo_shared.queries import load_queries

Q = load_queries(Path(__file__).parent / "queries.sql")


async def handle_message_sent(pool: asyncpg.Pool, event: MessagesSent) -> None:
    sent = [m for m in event.messages if m.contact_id is not None]
    if not sent:
        return
    await pool.execute(
        Q.record_outbound_messages, [m.contact_id for m in sent], [m.sent_at for m in sent]
    )
