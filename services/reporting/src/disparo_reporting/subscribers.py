"""Durable JetStream subscriptions of reporting: parse the event, hand it to ``project``.

One subscriber per stream: the wildcard subject says which event a message carries, so the
handler picks the model by subject. A failure to project is redelivered with backoff and dropped
after ``max_deliveries`` (a rebuild restores it); a body that does not parse is dropped with an
error log, since no redelivery could fix it.
"""

from datetime import timedelta

from faststream.nats.annotations import NatsMessage
from pydantic import ValidationError

from disparo_reporting.projections import parse_event, project
from disparo_reporting.settings import ReportingSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import subjects
from disparo_shared.logging import get_logger
from disparo_shared.redelivery import apply_or_give_up
from disparo_shared.runtime import Runtime

log = get_logger(__name__)

SUBSCRIPTIONS: tuple[tuple[str, str, str], ...] = (
    # (stream, subject, durable name)
    (subjects.STREAM_MESSAGES, subjects.MESSAGE_ALL, "reporting-messages"),
    (subjects.STREAM_COMMANDS, subjects.MESSAGES_REQUESTED, "reporting-requests"),
    (subjects.STREAM_CAMPAIGNS, subjects.CAMPAIGN_ALL, "reporting-campaigns"),
    (subjects.STREAM_CONTACTS, subjects.CONTACT_ALL, "reporting-contacts"),
    # takeovers and closings, for the follow-up breakdown (what stopped a doctor's reminders)
    (
        subjects.STREAM_CONVERSATIONS,
        subjects.CONVERSATION_CONTROL_CHANGED,
        "reporting-conversations",
    ),
)


def register_subscribers(runtime: Runtime, settings: ReportingSettings) -> None:
    """Attach reporting's subscribers to the runtime's broker (before it starts)."""
    for stream, subject, durable in SUBSCRIPTIONS:
        durable_subscriber(
            runtime.broker, runtime.settings.nats, stream=stream, subject=subject, durable=durable
        )(_handler(runtime, settings))


def _handler(runtime: Runtime, settings: ReportingSettings):
    """A fresh handler function per subscription (FastStream wraps each function once)."""
    nats_settings = runtime.settings.nats
    reply_window = timedelta(hours=settings.reply_window_hours)

    async def handle(body: dict, msg: NatsMessage) -> None:
        subject = msg.raw_message.subject.removeprefix(nats_settings.stream_prefix)
        try:
            event = parse_event(subject, body)
        except (KeyError, ValidationError) as exc:
            log.error("unreadable event dropped", subject=subject, error=str(exc))
            await msg.reject()
            return
        await apply_or_give_up(
            msg,
            lambda: project(runtime.pool, event, reply_window),
            max_deliveries=settings.max_deliveries,
            subject=subject,
            event_id=str(event.event_id),
        )

    return handle
