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
from disparo_shared.events.contacts import ContactErased, ContactOptedIn, ContactOptedOut
from disparo_shared.events.conversations import (
    Controller,
    ConversationControlChanged,
    ConversationStage,
    ConversationStageChanged,
    campaign_conversation_id,
)
from disparo_shared.events.messages import (
    EnqueuedMessage,
    MessageCancelled,
    MessageDelivered,
    MessageFailed,
    MessageKind,
    MessageRead,
    MessageReceived,
    MessagesEnqueued,
    MessageSent,
    MessagesRequested,
    RecipientSnapshot,
    RequestedMessage,
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
    "ContactErased",
    "ContactOptedIn",
    "ContactOptedOut",
    "Controller",
    "ConversationControlChanged",
    "ConversationStage",
    "ConversationStageChanged",
    "Event",
    "MessageCancelled",
    "MessageDelivered",
    "EnqueuedMessage",
    "MessagesEnqueued",
    "MessageFailed",
    "MessageKind",
    "MessageRead",
    "MessageReceived",
    "MessageSent",
    "MessagesRequested",
    "RecipientSnapshot",
    "RequestedMessage",
    "campaign_conversation_id",
    "utc_now",
]
