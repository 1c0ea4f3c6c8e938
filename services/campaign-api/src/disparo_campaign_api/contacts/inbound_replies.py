"""What campaign-api does with an inbound reply (``message.received``).

Every reply from a known contact counts as an interaction and moves ``last_inbound_at`` and
``last_contact_at`` (the engagement and last-contact segments read them). A reply that is an
opt-out phrase (``optout_words.OptOutPhrases``) opts the sender out — creating a minimal contact
when the phone is unknown, so the refusal is kept even for someone never imported.
"""

from pathlib import Path

import asyncpg

from disparo_campaign_api.contacts.consent import ConsentSource, opt_out
from disparo_campaign_api.contacts.optout_words import OptOutPhrases
from disparo_shared.events import MessageReceived
from disparo_shared.inbox import first_delivery
from disparo_shared.logging import get_logger
from disparo_shared.phones import InvalidPhone, normalize_phone
from disparo_shared.queries import load_queries

CONSUMER = "campaign-api.inbound-replies"
Q = load_queries(Path(__file__).parent / "queries.sql")

log = get_logger(__name__)


async def handle_inbound_reply(
    pool: asyncpg.Pool, event: MessageReceived, phrases: OptOutPhrases
) -> None:
    """Apply one inbound reply, once per event id (the inbox makes redeliveries no-ops)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, CONSUMER, event.event_id):
            return
        try:
            phone = normalize_phone(event.phone)
        except InvalidPhone as exc:
            log.warning(
                "inbound reply from an invalid phone ignored", phone=event.phone, reason=str(exc)
            )
            return
        phrase = phrases.match(event.body)
        if phrase is None:
            await conn.fetchval(Q.touch_contact, phone, event.at)
            return
        contact_id = await conn.fetchval(Q.touch_or_create_contact, phone, event.at)
        await opt_out(
            conn,
            contact_id,
            reason=f'replied "{phrase}"',
            source=ConsentSource.INBOUND_MESSAGE,
            source_ref=event.provider_message_id,
            at=event.at,
        )
        log.info("contact opted out by reply", phone=phone, phrase=phrase)
