"""Durable JetStream subscriptions of reporting: parse the event, project it with its pull.

One subscriber per stream (two on ``COMMANDS``, one per request subject): the wildcard subject
says which event a message carries, so the handler picks the model by subject. Each pull brings
up to ``batch_size`` events, projected together in one transaction, or in a few one after
another when they speak of more than ``batch_max_messages`` messages (``event_batches``,
``batch_projection``); each event is acknowledged once its batch committed. When a batch fails,
each of its events is projected alone, so the one that fails (a poison event, a bug) goes its
own way: redelivered with backoff and dropped after ``max_deliveries`` (a rebuild restores it),
while the others are projected. An event delivered before is always projected alone, so a poison
event drags down at most the one batch it first came in. A body that does not parse is dropped
with an error log, since no redelivery could fix it.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from faststream.nats.message import NatsMessage
from pydantic import ValidationError

from disparo_reporting.batch_projection import project_batch
from disparo_reporting.event_batches import BatchFailed, EventBatcher
from disparo_reporting.projections import carried_messages, parse_event, project
from disparo_reporting.settings import ReportingSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import Event, subjects
from disparo_shared.logging import get_logger
from disparo_shared.redelivery import apply_or_give_up
from disparo_shared.runtime import Runtime

log = get_logger(__name__)

SUBSCRIPTIONS: tuple[tuple[str, str, str], ...] = (
    # (stream, subject, durable name)
    (subjects.STREAM_MESSAGES, subjects.MESSAGE_ALL, "reporting-messages"),
    (subjects.STREAM_COMMANDS, subjects.MESSAGES_REQUESTED, "reporting-requests"),
    # urgent requests (replies) have a subject of their own; a consumer has one filter (NATS 2.9)
    (subjects.STREAM_COMMANDS, subjects.MESSAGES_REQUESTED_URGENT, "reporting-urgent-requests"),
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
            runtime.broker,
            runtime.settings.nats,
            stream=stream,
            subject=subject,
            durable=durable,
            batch_size=settings.batch_size,
            fetch_timeout=settings.batch_wait_seconds,
            decoder=_the_message,
        )(_handler(runtime, settings))


def _the_message(msg: NatsMessage) -> NatsMessage:
    """The handler's argument: the message itself, its body parsed straight into the event's
    model (no JSON-to-dict step), and no injected context (FastStream resolves one in a thread
    for every message)."""
    return msg


def _handler(runtime: Runtime, settings: ReportingSettings):
    """A fresh handler function per subscription (FastStream wraps each function once)."""
    nats_settings = runtime.settings.nats
    reply_window = timedelta(hours=settings.reply_window_hours)

    async def apply_batch(events: Sequence[Event]) -> None:
        await project_batch(runtime.pool, events, reply_window)

    # A pull of 500 events was sized for one message per event, as receipts and failures still
    # are; but a sent, enqueued or requested event carries up to 5,000 (a sent one ~1,000), so
    # a pull of them would be hundreds of thousands of rows holding every doctor's lock in one
    # transaction. The pull keeps its size, for the receipts; its transactions are cut by
    # messages, one after another.
    batcher = EventBatcher(
        apply_batch, max_size=settings.batch_max_messages, size_of=carried_messages
    )

    async def handle(msg: Any) -> None:  # a NatsMessage (``_the_message``), left uncast
        subject = msg.raw_message.subject.removeprefix(nats_settings.stream_prefix)
        try:
            event = parse_event(subject, msg.body)
        except (KeyError, ValidationError) as exc:
            log.error("unreadable event dropped", subject=subject, error=str(exc))
            await msg.reject()
            return
        if msg.raw_message.metadata.num_delivered <= 1:
            try:
                await batcher.submit(event)
                return
            except BatchFailed:
                pass
        await apply_or_give_up(
            msg,
            lambda: project(runtime.pool, event, reply_window),
            max_deliveries=settings.max_deliveries,
            subject=subject,
            event_id=str(event.event_id),
        )

    return handle
