"""Campaign completion from the dispatcher's facts: ``message.sent``, final ``message.failed``.

A campaign is completed when fan-out is done and every recipient's message is final. Each fact
marks its recipient row (``status = 'pending'`` → sent/failed, a natural once-only update, so a
redelivered event changes nothing and no inbox row is needed), then checks the campaign; the
scheduler's sweep catches the race where the last two facts commit at once.
"""

from datetime import datetime

import asyncpg

from disparo_campaign_api.campaigns.handlers import complete_if_finished, record_outcome
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import MessageFailed, MessageSent, subjects, utc_now
from disparo_shared.runtime import Runtime


async def handle_message_sent(pool: asyncpg.Pool, event: MessageSent, now: datetime) -> None:
    if event.campaign_id is None:
        return
    await _finish(pool, event, "sent", now)


async def handle_message_failed(pool: asyncpg.Pool, event: MessageFailed, now: datetime) -> None:
    """Only a final failure is an outcome; a retryable one will be tried again."""
    if event.campaign_id is None or not event.final:
        return
    await _finish(pool, event, "failed", now)


async def _finish(
    pool: asyncpg.Pool, event: MessageSent | MessageFailed, status, now: datetime
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await record_outcome(conn, event.campaign_id, event.message_id, status, now):
            await complete_if_finished(conn, event.campaign_id, now)


def subscribe_campaign_outcomes(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """``message.sent`` and ``message.failed`` → recipient outcomes and campaign completion."""

    @durable_subscriber(
        runtime.broker,
        runtime.settings.nats,
        stream=subjects.STREAM_MESSAGES,
        subject=subjects.MESSAGE_SENT,
        durable="campaign-api-campaign-sent",
        batch_size=200,
    )
    async def on_message_sent(event: MessageSent) -> None:
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
