"""Durable JetStream subscriptions of followup: parse the event, hand it to ``apply``.

Subjects on the wildcards that followup does not need (``message.enqueued``, ``message.read``…)
are acknowledged untouched. A failure to apply is redelivered with backoff and dropped after
``max_deliveries``; a body that does not parse is dropped with an error log, since no
redelivery could fix it.
"""

from faststream.nats.annotations import NatsMessage
from pydantic import ValidationError

from disparo_followup.conversations import EVENT_TYPES, apply
from disparo_followup.settings import FollowupSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import subjects
from disparo_shared.logging import get_logger
from disparo_shared.redelivery import apply_or_give_up
from disparo_shared.runtime import Runtime

log = get_logger(__name__)

SUBSCRIPTIONS: tuple[tuple[str, str, str, int], ...] = (
    # (stream, subject, durable name, events per pull)
    # A campaign's requests hold up to 2,000 messages each: a few at once, as in the dispatcher.
    (subjects.STREAM_COMMANDS, subjects.MESSAGES_REQUESTED, "followup-requests", 8),
    # Urgent requests (replies) have a subject of their own; a consumer has one filter (NATS 2.9).
    (subjects.STREAM_COMMANDS, subjects.MESSAGES_REQUESTED_URGENT, "followup-urgent-requests", 50),
    # A message.sent event holds ~1,000 sends, but the stream also carries about one status
    # (delivered, read) per send, which followup acknowledges untouched: a pull seldom holds
    # more than one such batch, and a smaller pull would only slow the skipping. Even a pull of
    # 50 batches is applied ten at a time by the pool, some tens of ms each: far within ack wait.
    (subjects.STREAM_MESSAGES, subjects.MESSAGE_ALL, "followup-messages", 50),
    (subjects.STREAM_CONVERSATIONS, subjects.CONVERSATION_ALL, "followup-conversations", 50),
    (subjects.STREAM_CONTACTS, subjects.CONTACT_ALL, "followup-contacts", 50),
    # A campaign's follow-up plan comes with its start.
    (subjects.STREAM_CAMPAIGNS, subjects.CAMPAIGN_STARTED, "followup-campaigns", 50),
)


def register_subscribers(runtime: Runtime, settings: FollowupSettings) -> None:
    """Attach followup's subscribers to the runtime's broker (before it starts)."""
    for stream, subject, durable, batch_size in SUBSCRIPTIONS:
        durable_subscriber(
            runtime.broker,
            runtime.settings.nats,
            stream=stream,
            subject=subject,
            durable=durable,
            batch_size=batch_size,
        )(_handler(runtime, settings))


def _handler(runtime: Runtime, settings: FollowupSettings):
    """A fresh handler function per subscription (FastStream wraps each function once)."""
    prefix = runtime.settings.nats.stream_prefix

    async def handle(body: dict, msg: NatsMessage) -> None:
        subject = msg.raw_message.subject.removeprefix(prefix)
        event_type = EVENT_TYPES.get(subject)
        if event_type is None:
            return
        try:
            event = event_type.model_validate(body)
        except ValidationError as exc:
            log.error("unreadable event dropped", subject=subject, error=str(exc))
            await msg.reject()
            return
        await apply_or_give_up(
            msg,
            lambda: apply(runtime.pool, event),
            max_deliveries=settings.max_deliveries,
            subject=subject,
            event_id=str(event.event_id),
        )

    return handle
