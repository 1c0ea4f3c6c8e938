"""Consent facts about a contact, published by campaign-api (and by the dispatcher when a
provider reports an opt-out, Cloud 131050)."""

from uuid import UUID

from pydantic import Field

from disparo_shared.events import limits, subjects
from disparo_shared.events.base import Event


class ContactOptedOut(Event):
    subject = subjects.CONTACT_OPTED_OUT
    contact_id: UUID | None = None
    phone: str = Field(max_length=limits.PHONE)
    reason: str = Field(max_length=limits.REASON)


class ContactOptedIn(Event):
    subject = subjects.CONTACT_OPTED_IN
    contact_id: UUID | None = None
    phone: str = Field(max_length=limits.PHONE)


class ContactErased(Event):
    """LGPD erasure: every service forgets this doctor (by contact id and by phone).

    The phone travels so services that key by phone (the queue, reporting) find the person; the
    event ages out of the CONTACTS stream with the stream's ``max_age`` like every other.
    """

    subject = subjects.CONTACT_ERASED
    contact_id: UUID
    phone: str = Field(max_length=limits.PHONE)
