"""Campaign completion from the dispatcher's facts: ``message.sent``, final ``message.failed``.

A campaign is completed when fan-out is done and every recipient's message is final. A fact
marks its recipient rows (``status = 'pending'`` → sent/failed, a natural once-only update, so a
redelivered event changes nothing and no inbox row is needed), then checks each campaign where a
row changed; the scheduler's sweep catches the race where the last two facts commit at once.
``message.sent`` is one event per dispatcher flush (up to about 1,000 sends, of any campaigns):
its rows are marked by one statement and each campaign checked once, in one transaction.
``message.failed`` is one event per failure.
"""

from datetime import datetime

import asyncpg

from disparo_campaign_api.campaigns.handlers import (
    complete_if_finished,
    record_outcome,
    record_outcomes,
)
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import MessageFailed, MessagesSent, subjects, utc_now
from disparo_shared.runtime import Runtime

# ``message.sent`` events one pull brings, for each reader of them. A pull's events are handled
# at once, each in a transaction of its own, and one event holds up to ~1,000 sends: a pull of
# 200 (200,000 sends) would ask for 200 connections of the default pool of 10, starving the API.
# 4 events, ~4,000 sends (under 2 s of the dispatcher's 2,500/s), hold at most 4 connections
# and still apply a backlog far faster than sends arrive (one event takes tens of ms).
SENT_EVENTS_PER_PULL = 4


async def handle_message_sent(pool: asyncpg.Pool, event: MessagesSent, now: datetime) -> None:
    sent = [(m.campaign_id, m.message_id) for m in event.messages if m.campaign_id is not None]
    if not sent:
        return
    async with pool.acquire() as conn, conn.transaction():
        for campaign_id in await record_outcomes(conn, sent, "sent", now):
            await complete_if_finished(conn, campaign_id, now)


async def handle_message_failed(pool: asyncpg.Pool, event: MessageFailed, now: datetime) -> None:
    """Only a final failure is an outcome; a retryable one will be tried again."""
    if event.campaign_id is None or not event.final:
        return
    async with pool.acquire() as conn, conn.transaction():
        if await record_outcome(conn, event.campaign_id, event.message_id, "failed", now):
            await complete_if_finished(conn, event.campaign_id, now)


def subscribe_campaign_outcomes(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """``message.sent`` and ``message.failed`` → recipient outcomes and campaign completion."""

    @durable_subscriber(
        runtime.broker,
        runtime.settings.nats,
        stream=subjects.STREAM_MESSAGES,
        subject=subjects.MESSAGE_SENT,
        durable="campaign-api-campaign-sent",
        batch_size=SENT_EVENTS_PER_PULL,
    )
    async def on_message_sent(event: MessagesSent) -> None:
        await handle_message_sent(runtime.pool, event, utc_now())

    @durable_subscriber(
        runtime.broker,
        runtime.settings.nats,
        stream=subjects.STREAM_MESSAGES,
        subject=subjects.MESSAGE_FAILED,
        durable="campaign-api-campaign-failed",
        batch_size=200,
    )
    async def on_message_failed(event: MessageFailed) -> None:
        await handle_message_failed(runtime.pool, event, utc_now())
