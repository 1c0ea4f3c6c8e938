"""The dispatcher's JetStream subscriptions: parse the event, call its handler, nothing more."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from faststream.nats.annotations import NatsMessage

from disparo_dispatcher import automatic_messages, handlers, privacy
from disparo_dispatcher.intake_gate import IntakeGate
from disparo_dispatcher.metrics import INTAKE_HANDLER, INTAKE_WAIT
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import (
    CampaignCancelled,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
    ContactErased,
    ContactOptedIn,
    ContactOptedOut,
    ConversationControlChanged,
    ConversationStageChanged,
    MessagesRequested,
    subjects,
)
from disparo_shared.runtime import Runtime

URGENT_WORKERS = 8  # replies persisted at once; each holds one of the pool's connections


def register_subscribers(
    runtime: Runtime,
    settings: DispatcherSettings,
    placement: PlacementCache,
    clock: Callable[[], datetime],
    intake: IntakeGate,
) -> None:
    broker, nats = runtime.broker, runtime.settings.nats
    # Read, never built, here: through a name of its own, so the bus declarations' check (a
    # class named in a call is an event this service publishes) does not count it.
    requested: type[MessagesRequested] = MessagesRequested

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_COMMANDS,
        subject=subjects.MESSAGES_REQUESTED,
        durable="dispatcher-messages-requested",
        # A backlog arrives in full batches at once; a pull that waits up to 1 s for its batch
        # to fill would hold a lone request that long.
        fetch_timeout=0.1,
        # A campaign's events hold up to 2,000 messages each. Pulled one at a time and handed
        # to ``intake_concurrency`` workers, so a worker that finishes takes the next event at
        # once (a pull of two waited for both handlers before pulling again). The default pull
        # of 50 held ~300 MB of parsed messages at a million-recipient start; 8 at once took
        # the CPU sending needed, so while sending runs ``intake`` lets one through at a time
        # (see ``intake_gate``).
        batch_size=1,
        max_workers=settings.intake_concurrency,
        # The body validated by pydantic straight from its JSON bytes: FastStream's json.loads
        # then a model built from the dicts took about twice the CPU for a 1,000-message event.
        decoder=_the_message,
    )
    async def on_messages_requested(msg: Any) -> None:  # a NatsMessage (``_the_message``)
        with _timed_intake("requests", msg):
            async with intake.turn():
                event = requested.model_validate_json(msg.body)
                await handlers.enqueue_requested(runtime.pool, event, clock(), placement, settings)

    # Urgent requests (a reply) come on a subject of their own, read by a consumer of their own
    # that never sees a campaign's events: a reply published while a campaign's thousand ~300 kB
    # events wait for the consumer above is persisted at once. Measured p99 during a
    # 300,000-message intake: 153 s from publish to queue when one consumer read every request,
    # 31.7 s from publish to sent when a second consumer of the same subject skipped the
    # campaign's events (it still pulled each one).
    # A reply must be on its way within a second, so it is pulled alone: a pull of one returns
    # as soon as its message arrives, where a pull of 50 held a lone reply until its 0.1 s to
    # fill ran out, and the next pull waited for every handler of the last. Up to 8 replies
    # are persisted at once while the next is pulled.
    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_COMMANDS,
        subject=subjects.MESSAGES_REQUESTED_URGENT,
        durable="dispatcher-urgent-requests",
        batch_size=1,
        max_workers=URGENT_WORKERS,
        decoder=_the_message,  # as above: validated from the JSON bytes
    )
    async def on_urgent_requested(msg: Any) -> None:  # a NatsMessage (``_the_message``)
        with _timed_intake("urgent", msg):
            event = requested.model_validate_json(msg.body)
            await handlers.enqueue_requested(runtime.pool, event, clock(), placement, settings)

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CAMPAIGNS,
        subject=subjects.CAMPAIGN_STARTED,
        durable="dispatcher-campaign-started",
    )
    async def on_campaign_started(event: CampaignStarted) -> None:
        await handlers.configure_campaign(runtime.pool, event)

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CAMPAIGNS,
        subject=subjects.CAMPAIGN_PAUSED,
        durable="dispatcher-campaign-paused",
    )
    async def on_campaign_paused(event: CampaignPaused) -> None:
        await handlers.pause_campaign(runtime.pool, event)

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CAMPAIGNS,
        subject=subjects.CAMPAIGN_RESUMED,
        durable="dispatcher-campaign-resumed",
    )
    async def on_campaign_resumed(event: CampaignResumed) -> None:
        await handlers.resume_campaign(runtime.pool, event)

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CAMPAIGNS,
        subject=subjects.CAMPAIGN_CANCELLED,
        durable="dispatcher-campaign-cancelled",
    )
    async def on_campaign_cancelled(event: CampaignCancelled) -> None:
        await handlers.cancel_campaign(runtime.pool, event, clock())

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CONTACTS,
        subject=subjects.CONTACT_OPTED_OUT,
        durable="dispatcher-contact-opted-out",
    )
    async def on_contact_opted_out(event: ContactOptedOut) -> None:
        await handlers.opt_out(runtime.pool, event, clock())

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CONTACTS,
        subject=subjects.CONTACT_OPTED_IN,
        durable="dispatcher-contact-opted-in",
    )
    async def on_contact_opted_in(event: ContactOptedIn) -> None:
        await handlers.opt_in(runtime.pool, event)

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CONTACTS,
        subject=subjects.CONTACT_ERASED,
        durable="dispatcher-contact-erased",
    )
    async def on_contact_erased(event: ContactErased) -> None:
        await privacy.forget_contact(runtime.pool, event, clock())

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CONVERSATIONS,
        subject=subjects.CONVERSATION_STAGE_CHANGED,
        durable="dispatcher-conversation-stage-changed",
    )
    async def on_conversation_stage_changed(event: ConversationStageChanged) -> None:
        await automatic_messages.apply_conversation_control(runtime.pool, event, clock())

    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_CONVERSATIONS,
        subject=subjects.CONVERSATION_CONTROL_CHANGED,
        durable="dispatcher-conversation-control-changed",
    )
    async def on_conversation_control_changed(event: ConversationControlChanged) -> None:
        await automatic_messages.apply_conversation_control(runtime.pool, event, clock())


@contextmanager
def _timed_intake(consumer: str, msg: NatsMessage) -> Iterator[None]:
    """Observe how long ``msg`` waited since JetStream stored it, then how long its handler
    took (the server's clock against ours: clamped at zero)."""
    stored_at = msg.raw_message.metadata.timestamp.timestamp()
    INTAKE_WAIT.labels(consumer).observe(max(0.0, time.time() - stored_at))
    started = time.perf_counter()
    try:
        yield
    finally:
        INTAKE_HANDLER.labels(consumer).observe(time.perf_counter() - started)


def _the_message(msg: NatsMessage) -> NatsMessage:
    """The handler's argument: the message itself, its body not decoded."""
    return msg
