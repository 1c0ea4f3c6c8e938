"""Consent facts about a contact, published by campaign-api (and by the dispatcher when a
provider reports an opt-out, Cloud 131050)."""

from uuid import UUID

from disparo_shared.events import subjects
from disparo_shared.events.base import Event


class ContactOptedOut(Event):
    subject = subjects.CONTACT_OPTED_OUT
    contact_id: UUID | None = None
    phone: str
    reason: str


class ContactOptedIn(Event):
    subject = subjects.CONTACT_OPTED_IN
    contact_id: UUID | None = None
    phone: str
