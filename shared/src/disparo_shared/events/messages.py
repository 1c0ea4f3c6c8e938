"""The send command and the facts of a message's life, from request to reply."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from disparo_shared.events import limits, subjects
from disparo_shared.events.base import ENVELOPE_FIELDS, Event

# A cap on every batch event's list (the byte cap is enforced by splitting, ``sizing.py``).
MAX_MESSAGES_PER_EVENT = 5000


class MessageKind(StrEnum):
    CAMPAIGN = "campaign"
    FOLLOWUP = "followup"
    REPLY = "reply"
    FIRST_CONTACT = "first_contact"


class TemplateParameter(BaseModel):
    """One filled body parameter of a template: ``name`` for a named template (``{{nome}}``),
    none for a positional one (``{{1}}``, in order)."""

    model_config = ConfigDict(frozen=True)

    name: str | None = Field(None, max_length=128)
    text: str = Field(min_length=1, max_length=1024)


class MessageTemplate(BaseModel):
    """The approved Cloud API template a message goes out as when the doctor's 24 h window with
    its number is closed (Evolution numbers ignore it)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=16, description="Meta's locale, e.g. pt_BR")
    parameters: list[TemplateParameter] = Field(default_factory=list, max_length=100)


class RecipientSnapshot(BaseModel):
    """Whom a campaign message went to, beyond ``contact_name``: the doctor's specialty and
    region as they stood when the campaign fanned out.

    Carried on the request so readers (reports, exports) know the doctor without reading the
    contacts schema; a snapshot, so a report keeps showing whom the campaign targeted even after
    the contact is edited."""

    model_config = ConfigDict(frozen=True)

    specialty: str | None = Field(None, max_length=limits.NAME)
    region: str | None = Field(None, max_length=limits.NAME)


class RequestedMessage(BaseModel):
    """One message to send. ``message_id`` is chosen by the requester, so a retried request
    names the same message and the dispatcher keeps one row for it."""

    model_config = ConfigDict(frozen=True)

    message_id: UUID
    idempotency_key: str = Field(min_length=1, max_length=limits.KEY)
    contact_id: UUID | None = None
    phone: str = Field(max_length=limits.PHONE, description="E.164, e.g. +5511987654321")
    kind: MessageKind
    body: str = Field(min_length=1, max_length=4096)
    priority: int = Field(5, ge=1, le=10, description="10 is the most urgent")
    not_before: datetime | None = None
    campaign_id: UUID | None = None
    conversation_id: UUID | None = None
    max_attempts: int = Field(5, ge=1, le=50)
    template: MessageTemplate | None = None
    contact_name: str | None = Field(
        None,
        max_length=limits.NAME,
        description="The doctor's name, so followup can fill {nome} in later follow-ups.",
    )
    followup_attempt: int | None = Field(
        None, ge=1, description="A follow-up's number in its stage (1, 2…), for reports."
    )
    followup_rule: str | None = Field(
        None,
        max_length=limits.CODE,
        description="The rule a follow-up was requested under, e.g. padrao/primeiro_contato.",
    )
    recipient: RecipientSnapshot | None = None


URGENT_PRIORITY = 8
"""Priority from which a message is urgent: a reply in a live conversation (campaign-api's
default for replies). The dispatcher persists a request holding one out of turn
(``MessagesRequested.publish_subject``) and lets it past its cap of provider calls."""


class MessagesRequested(Event):
    """The command to send a batch of messages.

    Published on ``messages.requested``, or on ``messages.requested.urgent`` when one of its
    messages is urgent (``URGENT_PRIORITY``): the dispatcher reads the urgent subject through a
    consumer of its own, so a reply published while a campaign's thousand events wait in the
    stream is persisted at once, not after them. Example: messages of priority 3 and 8 →
    ``messages.requested.urgent``; of 3 and 7 → ``messages.requested``."""

    subject = subjects.MESSAGES_REQUESTED
    messages: list[RequestedMessage] = Field(max_length=MAX_MESSAGES_PER_EVENT)

    @classmethod
    def every_subject(cls) -> tuple[str, ...]:
        return subjects.MESSAGES_REQUESTED_SUBJECTS

    @property
    def publish_subject(self) -> str:
        if any(m.priority >= URGENT_PRIORITY for m in self.messages):
            return subjects.MESSAGES_REQUESTED_URGENT
        return subjects.MESSAGES_REQUESTED


class EnqueuedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: UUID
    campaign_id: UUID | None = None
    kind: MessageKind
    sender: str | None = None
    not_before: datetime | None = None


class MessagesEnqueued(Event):
    """The messages of one request (or one re-queue) now waiting in a sender's queue.

    One event per batch, like ``messages.requested``: a million-recipient campaign is two
    thousand events, not a million.
    """

    subject = subjects.MESSAGE_ENQUEUED
    messages: list[EnqueuedMessage] = Field(max_length=MAX_MESSAGES_PER_EVENT)


class SentMessage(BaseModel):
    """One message the provider took: which, to whom in which campaign and conversation, the
    provider's id for it, through which number, and when."""

    model_config = ConfigDict(frozen=True)

    message_id: UUID
    campaign_id: UUID | None = None
    contact_id: UUID | None = None
    conversation_id: UUID | None = None
    kind: MessageKind
    provider_message_id: str = Field(max_length=limits.PROVIDER_ID)
    sender: str
    attempt: int
    sent_at: datetime


class MessagesSent(Event):
    """The messages one flush of the dispatcher recorded as sent.

    One event per flush, like ``message.enqueued`` per intake batch: a million sends are about a
    thousand events, not a million, and each reader applies a batch in one transaction. Version
    1 carried one message at the top level; such an event, still in a stream at an upgrade, is
    read as a batch of one, so none is lost.
    """

    subject = subjects.MESSAGE_SENT
    schema_version: int = 2
    messages: list[SentMessage] = Field(min_length=1, max_length=MAX_MESSAGES_PER_EVENT)

    @model_validator(mode="before")
    @classmethod
    def _one_message_of_version_1(cls, data: Any) -> Any:
        if isinstance(data, dict) and "messages" not in data and "message_id" in data:
            envelope = {k: data[k] for k in ENVELOPE_FIELDS if k in data}
            item = {k: v for k, v in data.items() if k not in ENVELOPE_FIELDS}
            return {**envelope, "messages": [item]}
        return data


class MessageFailed(Event):
    subject = subjects.MESSAGE_FAILED
    message_id: UUID
    campaign_id: UUID | None = None
    attempt: int
    error_code: str
    error: str
    retryable: bool
    next_attempt_at: datetime | None = None
    final: bool = False


class MessageDelivered(Event):
    subject = subjects.MESSAGE_DELIVERED
    message_id: UUID
    campaign_id: UUID | None = None
    provider_message_id: str
    at: datetime


class MessageRead(Event):
    subject = subjects.MESSAGE_READ
    message_id: UUID
    campaign_id: UUID | None = None
    provider_message_id: str
    at: datetime


class MessageReceived(Event):
    """An inbound reply. ``phone`` is E.164; consumers map it to their contact."""

    subject = subjects.MESSAGE_RECEIVED
    phone: str
    sender: str
    body: str = Field(max_length=limits.INBOUND_BODY)
    provider_message_id: str
    at: datetime


class MessageCancelled(Event):
    """An automatic message the dispatcher will not send because its conversation moved on:
    the doctor replied, opted out, a human took over, or the conversation ended. ``reason`` is
    one of ``replied``, ``opted_out``, ``taken_over``, ``closed``."""

    subject = subjects.MESSAGE_CANCELLED
    message_id: UUID
    campaign_id: UUID | None = None
    conversation_id: UUID | None = None
    kind: MessageKind
    reason: str = Field(max_length=limits.CODE)
