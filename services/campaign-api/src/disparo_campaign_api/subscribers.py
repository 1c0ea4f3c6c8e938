"""Event subscriptions of campaign-api, registered on the runtime's broker before it starts.

A registration is ``def register(runtime, settings) -> None`` that decorates a handler with
``disparo_shared.broker.durable_subscriber``; append it to ``SUBSCRIBERS``.
"""

from collections.abc import Callable

from disparo_campaign_api.campaigns.outcomes import (
    SENT_EVENTS_PER_PULL,
    subscribe_campaign_outcomes,
)
from disparo_campaign_api.contacts.inbound_replies import handle_inbound_reply
from disparo_campaign_api.contacts.optout_words import OptOutPhrases
from disparo_campaign_api.contacts.outbound_messages import handle_message_sent
from disparo_campaign_api.contacts.reported_opt_outs import handle_reported_opt_out
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import ContactOptedOut, MessageReceived, MessagesSent, subjects
from disparo_shared.runtime import Runtime

Registration = Callable[[Runtime, CampaignApiSettings], None]


def subscribe_inbound_replies(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """``message.received`` → interactions, last contact, and opt-out words."""
    phrases = OptOutPhrases(settings.opt_out_phrases)

    @durable_subscriber(
        runtime.broker,
        runtime.settings.nats,
        stream=subjects.STREAM_MESSAGES,
        subject=subjects.MESSAGE_RECEIVED,
        durable="campaign-api-inbound-replies",
    )
    async def on_message_received(event: MessageReceived) -> None:
        await handle_inbound_reply(runtime.pool, event, phrases)


def subscribe_outbound_messages(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """``message.sent``, a batch of sends → each contact's last outbound and last contact."""

    @durable_subscriber(
        runtime.broker,
        runtime.settings.nats,
        stream=subjects.STREAM_MESSAGES,
        subject=subjects.MESSAGE_SENT,
        durable="campaign-api-outbound-messages",
        batch_size=SENT_EVENTS_PER_PULL,  # each event a flush of ~1,000 sends: see its comment
    )
    async def on_message_sent(event: MessagesSent) -> None:
        await handle_message_sent(runtime.pool, event)


def subscribe_reported_opt_outs(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """``contact.opted_out`` from the dispatcher (provider 131050) → consent history, audiences."""

    @durable_subscriber(
        runtime.broker,
        runtime.settings.nats,
        stream=subjects.STREAM_CONTACTS,
        subject=subjects.CONTACT_OPTED_OUT,
        durable="campaign-api-reported-opt-outs",
    )
    async def on_contact_opted_out(event: ContactOptedOut) -> None:
        await handle_reported_opt_out(runtime.pool, event)


SUBSCRIBERS: list[Registration] = [
    subscribe_inbound_replies,
    subscribe_outbound_messages,
    subscribe_reported_opt_outs,
    subscribe_campaign_outcomes,
]
