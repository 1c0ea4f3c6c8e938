"""The dispatcher's JetStream subscriptions: parse the event, call its handler, nothing more."""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from faststream.nats.annotations import NatsMessage

from disparo_dispatcher import automatic_messages, handlers, privacy
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
from disparo_shared.events.messages import PRIORITY_HEADER
from disparo_shared.runtime import Runtime


def register_subscribers(
    runtime: Runtime,
    settings: DispatcherSettings,
    placement: PlacementCache,
    clock: Callable[[], datetime],
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
        # A reply must be on its way within a second: a pull that waits up to 1 s for its batch
        # to fill would hold a lone urgent message that long (measured: p50 ~0.5 s before it
        # even reached the queue). A backlog still arrives in full batches at once.
        fetch_timeout=0.1,
        # Events of a pull are handled at once, and a campaign's events hold up to 2,000
        # messages each; the next pull waits for all of them. The default 50 held ~300 MB of
        # parsed messages at a million-recipient start; 8 took the CPU sending needed (see
        # ``intake_concurrency``).
        batch_size=settings.intake_concurrency,
        # The body validated by pydantic straight from its JSON bytes: FastStream's json.loads
        # then a model built from the dicts took about twice the CPU for a 1,000-message event.
        decoder=_the_message,
    )
    async def on_messages_requested(msg: Any) -> None:  # a NatsMessage (``_the_message``)
        event = requested.model_validate_json(msg.body)
        await handlers.enqueue_requested(runtime.pool, event, clock(), placement, settings)

    # The same requests again, through a consumer of their own that persists only the urgent
    # ones (by the priority header, without decoding the rest): a reply published while a
    # campaign's thousand events wait in the stream is persisted at once, not after them
    # (measured: p99 153 s from publish to queue during a 300,000-message intake). Whichever
    # consumer comes first persists it; the inbox makes the other one a no-op.
    @durable_subscriber(
        broker,
        nats,
        stream=subjects.STREAM_COMMANDS,
        subject=subjects.MESSAGES_REQUESTED,
        durable="dispatcher-urgent-requests",
        fetch_timeout=0.1,
        batch_size=50,
        # Every campaign event passes through this consumer too (~300 kB each): its body is
        # left undecoded unless the header says the request is urgent.
        decoder=_the_message,
    )
    async def on_urgent_requested(msg: Any) -> None:  # a NatsMessage (``_the_message``)
        if not is_urgent(msg.headers, settings.urgent_priority):
            return
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


def _the_message(msg: NatsMessage) -> NatsMessage:
    """The handler's argument: the message itself, its body not decoded."""
    return msg


def is_urgent(headers: Mapping[str, str] | None, urgent_priority: int) -> bool:
    """Whether a request's priority header names an urgent message; a request without it (a
    campaign's fan-out writes none) is taken in turn."""
    value = (headers or {}).get(PRIORITY_HEADER, "")
    return value.isdigit() and int(value) >= urgent_priority
