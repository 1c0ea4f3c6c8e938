"""Every NATS subject and stream name, declared once for publishers and subscribers alike."""

# Stream names (prefixed at run time by NatsSettings.stream_prefix).
STREAM_CAMPAIGNS = "CAMPAIGNS"
STREAM_COMMANDS = "COMMANDS"
STREAM_MESSAGES = "MESSAGES"
STREAM_CONTACTS = "CONTACTS"
STREAM_CONVERSATIONS = "CONVERSATIONS"
STREAM_DEAD_LETTERS = "DEAD_LETTERS"

# campaign-api → reporting, dispatcher
CAMPAIGN_CREATED = "campaign.created"
CAMPAIGN_SCHEDULED = "campaign.scheduled"
CAMPAIGN_STARTED = "campaign.started"
CAMPAIGN_PAUSED = "campaign.paused"
CAMPAIGN_RESUMED = "campaign.resumed"
CAMPAIGN_CANCELLED = "campaign.cancelled"
CAMPAIGN_COMPLETED = "campaign.completed"
CAMPAIGN_ALL = "campaign.>"

# the one command: anyone → dispatcher (and followup, reporting). A request holding an urgent
# message (a reply: priority ≥ URGENT_PRIORITY, see MessagesRequested) travels on a subject of
# its own, so the dispatcher reads it at once instead of after the ~300 kB events of a
# campaign's fan-out waiting in the stream; every other reader of requests reads both.
MESSAGES_REQUESTED = "messages.requested"
MESSAGES_REQUESTED_URGENT = "messages.requested.urgent"
MESSAGES_REQUESTED_SUBJECTS = (MESSAGES_REQUESTED, MESSAGES_REQUESTED_URGENT)

# dispatcher → reporting, followup, campaign-api
MESSAGE_ENQUEUED = "message.enqueued"
MESSAGE_SENT = "message.sent"
MESSAGE_FAILED = "message.failed"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_READ = "message.read"
MESSAGE_RECEIVED = "message.received"
MESSAGE_CANCELLED = "message.cancelled"
MESSAGE_ALL = "message.>"

# campaign-api → dispatcher, followup, reporting; contact.opted_out also dispatcher (provider
# 131050) → campaign-api, followup, reporting
CONTACT_OPTED_OUT = "contact.opted_out"
CONTACT_OPTED_IN = "contact.opted_in"
CONTACT_ERASED = "contact.erased"  # LGPD: every service forgets the person
CONTACT_ALL = "contact.>"

# the recruiter system → followup
CONVERSATION_STAGE_CHANGED = "conversation.stage_changed"
# followup → dispatcher (a takeover, a release or a closed conversation)
CONVERSATION_CONTROL_CHANGED = "conversation.control_changed"
CONVERSATION_ALL = "conversation.>"

# any consumer → operators: an event its handler failed on max_deliveries times, copied to
# dead_letter.<its subject> (see redelivery.py) so it stops blocking and can be inspected
DEAD_LETTER_PREFIX = "dead_letter."
DEAD_LETTER_ALL = "dead_letter.>"

STREAM_SUBJECTS: dict[str, list[str]] = {
    STREAM_CAMPAIGNS: [CAMPAIGN_ALL],
    STREAM_COMMANDS: list(MESSAGES_REQUESTED_SUBJECTS),
    STREAM_MESSAGES: [MESSAGE_ALL],
    STREAM_CONTACTS: [CONTACT_ALL],
    STREAM_CONVERSATIONS: [CONVERSATION_ALL],
    STREAM_DEAD_LETTERS: [DEAD_LETTER_ALL],
}
