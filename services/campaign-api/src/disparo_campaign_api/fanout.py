"""Fan-out: a started campaign's recipients become ``messages.requested`` batches, streamed.

The audience is already in ``campaign_recipients`` (one ``INSERT … SELECT`` at start). This
worker walks it by ``seq`` in chunks (``fanout_batch_size`` rows, keyset, never OFFSET), renders
the template per contact, stages the chunk's ``MessagesRequested`` events in the outbox and moves
the campaign's ``fanout_cursor`` past the chunk — all in one transaction. A crash before commit
leaves the cursor where it was and the chunk is redone with the same message ids (chosen at
start), so there are no gaps and the dispatcher's dedupe on ``message_id`` absorbs any replay.
Memory stays at one chunk whatever the audience size.

The campaign row stays locked (``FOR UPDATE SKIP LOCKED``) during a chunk: replicas work on
different campaigns, and a pause or cancel waits for the chunk in flight, then stops the next.

``max_per_day`` and the send window reach the dispatcher as each message's ``not_before``
(``campaigns.DailySpread``): at most ``max_per_day`` messages of a campaign fall due per window
day, so the dispatcher stays generic. Events hold at most ``MAX_MESSAGES_PER_EVENT`` messages and
about ``MAX_EVENT_BYTES`` of JSON, well under NATS's 1 MB default payload limit.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from disparo_campaign_api.campaign_handlers import (
    FANOUT_CHANNEL,
    SQL,
    complete_if_finished,
    daily_spread,
)
from disparo_campaign_api.campaign_settings import campaign_settings
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_campaign_api.templates import DEFAULT_FALLBACKS, load_template
from disparo_shared.events import MessageKind, MessagesRequested, RequestedMessage, utc_now
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events
from disparo_shared.runtime import Runtime

MAX_MESSAGES_PER_EVENT = 500
MAX_EVENT_BYTES = 256 * 1024
_MESSAGE_OVERHEAD_BYTES = 420  # ids, phone, key, kind, timestamps of one message in JSON

log = get_logger(__name__)


@dataclass(frozen=True)
class FanoutSettings:
    """What fan-out needs from the service settings."""

    chunk_size: int = 5000
    max_attempts: int = 5
    zone_name: str = "America/Sao_Paulo"
    fallbacks: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FALLBACKS))


@dataclass(frozen=True)
class ChunkResult:
    campaign_id: Any
    requested: int
    skipped: int
    done: bool


def split_batches(messages: list[RequestedMessage]) -> list[list[RequestedMessage]]:
    """Consecutive batches of at most MAX_MESSAGES_PER_EVENT messages and ~MAX_EVENT_BYTES."""
    batches: list[list[RequestedMessage]] = []
    current: list[RequestedMessage] = []
    size = 0
    for message in messages:
        cost = len(message.body.encode()) + _MESSAGE_OVERHEAD_BYTES
        if current and (len(current) >= MAX_MESSAGES_PER_EVENT or size + cost > MAX_EVENT_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(message)
        size += cost
    if current:
        batches.append(current)
    return batches


async def fan_out_next_chunk(
    pool: asyncpg.Pool, now: datetime, settings: FanoutSettings
) -> ChunkResult | None:
    """Request the next chunk of one running campaign; None when no campaign needs fan-out."""
    async with pool.acquire() as conn, conn.transaction():
        campaign = await conn.fetchrow(SQL.claim_fanout_campaign)
        if campaign is None:
            return None
        campaign_id = campaign["id"]
        recipients = await conn.fetch(
            SQL.fanout_chunk, campaign_id, campaign["fanout_cursor"], settings.chunk_size
        )
        template = load_template(campaign["template"])
        spread = daily_spread(campaign, settings.zone_name)
        kind = MessageKind(campaign["kind"])
        messages: list[RequestedMessage] = []
        skipped: list[int] = []
        for r in recipients:
            if r["phone"] is None or r["opted_out_at"] is not None:
                skipped.append(r["seq"])  # deleted or opted out since the start
                continue
            body = template.render(r, settings.fallbacks)
            if not body.strip():
                skipped.append(r["seq"])
                continue
            messages.append(
                RequestedMessage(
                    message_id=r["message_id"],
                    idempotency_key=f"campaign:{campaign_id}:{r['contact_id']}",
                    contact_id=r["contact_id"],
                    phone=r["phone"],
                    kind=kind,
                    body=body,
                    priority=campaign["priority"],
                    not_before=spread.not_before(r["seq"]),
                    campaign_id=campaign_id,
                    max_attempts=settings.max_attempts,
                )
            )
        await add_events(
            conn, [MessagesRequested(messages=batch, occurred_at=now) for batch in split_batches(messages)]
        )
        if skipped:
            await conn.execute(SQL.skip_recipients, campaign_id, skipped, now)
        cursor = recipients[-1]["seq"] if recipients else campaign["audience_size"]
        await conn.execute(SQL.advance_fanout, campaign_id, cursor, now)
        done = cursor >= campaign["audience_size"]
        if done:
            await complete_if_finished(conn, campaign_id, now)  # e.g. everyone was skipped
        return ChunkResult(campaign_id, len(messages), len(skipped), done)


async def run_fanout(
    pool: asyncpg.Pool,
    settings: FanoutSettings,
    clock: Callable[[], datetime],
    poll_seconds: float = 5.0,
) -> None:
    """Fan out until cancelled: chunk after chunk while there is work, then wait for a NOTIFY
    from a start or resume (or ``poll_seconds``, in case a notification was missed)."""
    wake = asyncio.Event()

    def on_notify(*_: object) -> None:
        wake.set()

    listener = await pool.acquire()
    try:
        await listener.add_listener(FANOUT_CHANNEL, on_notify)
        while True:
            wake.clear()
            result = await fan_out_next_chunk(pool, clock(), settings)
            if result is not None:
                if result.done:
                    log.info("campaign fan-out done", campaign_id=str(result.campaign_id))
                continue
            try:
                await asyncio.wait_for(wake.wait(), poll_seconds)
            except TimeoutError:
                pass
    finally:
        await listener.remove_listener(FANOUT_CHANNEL, on_notify)
        await pool.release(listener)


async def campaign_fanout(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """The worker: fan out started campaigns, ``fanout_batch_size`` recipients per transaction."""
    config = campaign_settings()
    await run_fanout(
        runtime.pool,
        FanoutSettings(
            chunk_size=settings.fanout_batch_size,
            max_attempts=settings.message_max_attempts,
            zone_name=config.campaign_time_zone,
            fallbacks=dict(config.template_fallbacks),
        ),
        utc_now,
        poll_seconds=settings.scheduler_poll_seconds,
    )
