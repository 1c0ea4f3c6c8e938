"""Facts about a conversation: its stage and who controls it.

A conversation is one doctor with one purpose (a campaign, a first contact, a recruiter's
thread). Its **stage** uses the spec's words (``primeiro_contato``, ``pos_interesse``,
``pos_oferta``, plus ``encerrada``) and its **controller** is ``automation`` or ``human``.
The recruiter system's older words still parse: ``first_contact`` / ``interested`` /
``offer_made`` are the first three stages and ``ai`` is ``automation``, so an event published
with either vocabulary means the same thing.
"""

import hashlib
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from disparo_shared.events import limits, subjects
from disparo_shared.events.base import Event

CONVERSATION_NAMESPACE = UUID("5b0c6b1e-8a57-4c8e-9f1d-6d1a2f0c7e42")
"""Namespace of campaign conversation ids (also in campaign-api's SQL function)."""


class ConversationStage(StrEnum):
    PRIMEIRO_CONTATO = "primeiro_contato"
    POS_INTERESSE = "pos_interesse"
    POS_OFERTA = "pos_oferta"
    ENCERRADA = "encerrada"

    @classmethod
    def _missing_(cls, value: object) -> "ConversationStage | None":
        return _LEGACY_STAGES.get(value) if isinstance(value, str) else None


_LEGACY_STAGES = {
    "first_contact": ConversationStage.PRIMEIRO_CONTATO,
    "interested": ConversationStage.POS_INTERESSE,
    "offer_made": ConversationStage.POS_OFERTA,
}


class Controller(StrEnum):
    AUTOMATION = "automation"
    HUMAN = "human"

    @classmethod
    def _missing_(cls, value: object) -> "Controller | None":
        return cls.AUTOMATION if value == "ai" else None


def campaign_conversation_id(campaign_id: UUID, contact_id: UUID) -> UUID:
    """The one conversation of a doctor in a campaign: the same ids give the same conversation,
    so a retried fan-out and the follow-ups after it all join it.

    A name-based UUID version 8 (RFC 9562): the first 16 bytes of SHA-256 over the namespace and
    ``campaign:<campaign_id>:<contact_id>``, version and variant bits set as in uuid5. SHA-256
    rather than uuid5's SHA-1 because Postgres computes it without an extension, and campaign-api
    derives the same id in its fan-out statement (``campaign_conversation_id`` in SQL).
    """
    name = f"campaign:{campaign_id}:{contact_id}".encode()
    digest = bytearray(hashlib.sha256(CONVERSATION_NAMESPACE.bytes + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    return UUID(bytes=bytes(digest))


class ConversationStageChanged(Event):
    """The recruiter system (or a person over HTTP) moved a conversation."""

    subject = subjects.CONVERSATION_STAGE_CHANGED
    conversation_id: UUID
    contact_id: UUID
    phone: str | None = Field(None, max_length=limits.PHONE)
    contact_name: str | None = Field(None, max_length=limits.NAME)  # fills "{nome}"
    stage: ConversationStage
    controlled_by: Controller


class ConversationControlChanged(Event):
    """Followup changed who may write in a conversation, or closed it: the dispatcher stops
    automatic messages of a conversation a human took over or that ended (``stopped``) and lets
    them go again after a release."""

    subject = subjects.CONVERSATION_CONTROL_CHANGED
    conversation_id: UUID
    contact_id: UUID | None = None
    stage: ConversationStage | None = None
    controlled_by: Controller
    stopped: bool = Field(description="No automatic message of this conversation may go out.")
    by: str = Field(max_length=limits.NAME)
    reason: str | None = Field(None, max_length=limits.REASON)
