"""Opt-outs other services report (``contact.opted_out``), kept in the consent history here.

The dispatcher learns some refusals first: the provider answers a send with Cloud 131050 ("this
user stopped marketing messages"), and the dispatcher drops that phone's queue and publishes
``contact.opted_out``. Without this subscriber campaign-api never heard of it: the doctor stayed
in every audience and the consent history (LGPD) had no entry. Here the event opts the contact
out with source ``provider``; the events campaign-api publishes itself come back on the same
subject and are recognised by their id in ``opt_outs`` (``consent.record_reported_opt_out``).
"""

import asyncpg

from disparo_campaign_api.contacts.consent import ConsentSource, record_reported_opt_out
from disparo_shared.events import ContactOptedOut
from disparo_shared.logging import get_logger
from disparo_shared.phones import InvalidPhone, normalize_phone

log = get_logger(__name__)


async def handle_reported_opt_out(pool: asyncpg.Pool, event: ContactOptedOut) -> bool:
    """Apply one reported opt-out; True when it opted a contact out (False: ours, known, stale)."""
    try:
        phone = normalize_phone(event.phone)
    except InvalidPhone as exc:
        log.warning("reported opt-out of an invalid phone ignored", reason=str(exc))
        return False
    async with pool.acquire() as conn, conn.transaction():
        applied = await record_reported_opt_out(
            conn, event.model_copy(update={"phone": phone}), ConsentSource.PROVIDER
        )
    if applied:
        log.info("contact opted out as reported", phone=phone, reason=event.reason)
    return applied
