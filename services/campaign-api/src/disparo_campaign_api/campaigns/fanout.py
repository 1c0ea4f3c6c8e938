"""Fan-out: a started campaign's recipients become ``messages.requested`` batches, streamed.

The audience is already in ``campaign_recipients`` (one ``INSERT … SELECT`` at start). This
worker walks it by ``seq`` in chunks (``fanout_batch_size`` rows, keyset, never OFFSET). Each
chunk is one statement: Postgres renders the template per contact (``templates.render_sql``),
fills the campaign's Cloud API template, if it names one (``cloud_templates.template_sql``),
builds the ``MessagesRequested`` events and writes them to the outbox; then the campaign's
``fanout_cursor`` moves past the chunk, in the same transaction. A crash before commit leaves the
cursor where it was and the chunk is redone with the same message ids (derived from campaign, its
start and seq, ``message_ids``), so there are no gaps and the dispatcher's dedupe on
``message_id`` absorbs any replay. No recipient row passes through Python, so the worker's
memory does not grow with the audience.

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
from opentelemetry import propagate

from disparo_campaign_api.campaign_settings import campaign_settings
from disparo_campaign_api.campaigns.cloud_templates import template_sql
from disparo_campaign_api.campaigns.handlers import (
    FANOUT_CHANNEL,
    SQL,
    complete_if_finished,
    daily_spread,
)
from disparo_campaign_api.campaigns.message_ids import campaign_id_prefix
from disparo_campaign_api.campaigns.rules import MESSAGE_KIND, Kind
from disparo_campaign_api.campaigns.templates import DEFAULT_FALLBACKS, load_template, render_sql
from disparo_campaign_api.segments.filters import Parameters
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.events import MessagesRequested, utc_now
from disparo_shared.logging import get_logger
from disparo_shared.outbox import NOTIFY_CHANNEL
from disparo_shared.runtime import Runtime
from disparo_shared.waiting import wait_for_event

MAX_MESSAGES_PER_EVENT = 2000
# counted as body, name, specialty and region bytes + 500 per message (ids, conversation,
# phone, key, times)
MAX_EVENT_BYTES = 768 * 1024

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


def chunk_days(
    spread_days, cursor: int, chunk_size: int, max_per_day: int | None
) -> tuple[list[datetime], int]:
    """The ``not_before`` of each window day the chunk (seq cursor+1 … cursor+chunk_size) touches,
    and the index of the first of them."""
    if not max_per_day:
        return [spread_days(1)], 0
    first_day = cursor // max_per_day
    last_day = (cursor + chunk_size - 1) // max_per_day
    return [spread_days(day * max_per_day + 1) for day in range(first_day, last_day + 1)], first_day


def _trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def fan_out_next_chunk(
    pool: asyncpg.Pool, now: datetime, settings: FanoutSettings
) -> ChunkResult | None:
    """Request the next chunk of one running campaign; None when no campaign needs fan-out.

    Rendering, batching and the outbox insert happen in one statement (``request_chunk``), so a
    chunk costs one round trip and no row passes through Python.
    """
    async with pool.acquire() as conn, conn.transaction():
        campaign = await conn.fetchrow(SQL.claim_fanout_campaign)
        if campaign is None:
            return None
        campaign_id = campaign["id"]
        cursor = campaign["fanout_cursor"]
        spread = daily_spread(campaign, settings.zone_name)
        days, first_day = chunk_days(
            spread.not_before, cursor, settings.chunk_size, campaign["max_per_day"]
        )
        params = Parameters(first_index=16)
        body = render_sql(load_template(campaign["template"]), params.add, settings.fallbacks)
        cloud = template_sql(campaign["cloud_template"], params.add, settings.fallbacks)
        id_prefix = campaign_id_prefix(campaign_id, campaign["started_at"])
        row = await conn.fetchrow(
            SQL.request_chunk.replace("{template_values}", cloud.values)
            .replace("{template}", cloud.template)
            .replace("{body}", body),
            campaign_id,
            cursor,
            settings.chunk_size,
            MESSAGE_KIND[Kind(campaign["kind"])].value,
            campaign["priority"],
            settings.max_attempts,
            days,
            campaign["max_per_day"] or 0,
            first_day,
            id_prefix,
            now,
            _trace_headers(),
            # In turn whatever the campaign's priority: the urgent subject is for a few replies,
            # read at once in batches sized for them, not for a campaign's ~300 kB events.
            MessagesRequested.subject,
            MAX_MESSAGES_PER_EVENT,
            MAX_EVENT_BYTES,
            *params.values,
        )
        if row["events"]:
            await conn.execute(SQL.notify_outbox, NOTIFY_CHANNEL)
        if row["without_template"]:
            await conn.execute(SQL.count_without_template, campaign_id, row["without_template"])
        new_cursor = row["last_seq"] if row["last_seq"] is not None else campaign["audience_size"]
        await conn.execute(SQL.advance_fanout, campaign_id, new_cursor, now)
        done = new_cursor >= campaign["audience_size"]
        if done:
            await complete_if_finished(conn, campaign_id, now)  # e.g. everyone was skipped
        return ChunkResult(campaign_id, row["requested"], row["skipped"], done)


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
            await wait_for_event(wake, poll_seconds)
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
