"""Facts from the recruiter system about a conversation's stage and who controls it."""

from enum import StrEnum
from uuid import UUID

from disparo_shared.events import subjects
from disparo_shared.events.base import Event


class ConversationStage(StrEnum):
    FIRST_CONTACT = "first_contact"
    INTERESTED = "interested"
    OFFER_MADE = "offer_made"


class Controller(StrEnum):
    AI = "ai"
    HUMAN = "human"


class ConversationStageChanged(Event):
    subject = subjects.CONVERSATION_STAGE_CHANGED
    conversation_id: UUID
    contact_id: UUID
    phone: str | None = None
    contact_name: str | None = None  # fills "{nome}" in follow-up texts
    stage: ConversationStage
    controlled_by: Controller
