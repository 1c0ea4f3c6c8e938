"""The event catalog of DESIGN.md: frozen pydantic models, one module per context."""

from disparo_shared.events.base import Event, utc_now
from disparo_shared.events.campaigns import (
    CampaignCancelled,
    CampaignCompleted,
    CampaignCreated,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignSendWindow,
    CampaignStarted,
)
from disparo_shared.events.contacts import ContactOptedIn, ContactOptedOut
from disparo_shared.events.conversations import (
    Controller,
    ConversationStage,
    ConversationStageChanged,
)
from disparo_shared.events.messages import (
    EnqueuedMessage,
    MessageDelivered,
    MessageFailed,
    MessageKind,
    MessageRead,
    MessageReceived,
    MessagesEnqueued,
    MessageSent,
    MessagesRequested,
    MessageTemplate,
    RequestedMessage,
    TemplateParameter,
)

__all__ = [
    "CampaignCancelled",
    "CampaignCompleted",
    "CampaignCreated",
    "CampaignPaused",
    "CampaignResumed",
    "CampaignScheduled",
    "CampaignSendWindow",
    "CampaignStarted",
    "ContactOptedIn",
    "ContactOptedOut",
    "Controller",
    "ConversationStage",
    "ConversationStageChanged",
    "Event",
    "MessageDelivered",
    "EnqueuedMessage",
    "MessagesEnqueued",
    "MessageFailed",
    "MessageKind",
    "MessageRead",
    "MessageReceived",
    "MessageSent",
    "MessagesRequested",
    "MessageTemplate",
    "RequestedMessage",
    "TemplateParameter",
    "utc_now",
]
