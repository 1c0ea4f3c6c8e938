"""The scheduler: starts every scheduled campaign whose time has come, exactly once.

Each due campaign is claimed with ``FOR UPDATE SKIP LOCKED`` and started (audience snapshot,
state, ``CampaignStarted``) in the claiming transaction: another replica skips the locked row, and
once it commits the row is no longer ``scheduled``. A person pressing start at the same moment
waits on the same row lock and then finds the campaign running, so nothing is started twice.
The same loop re-checks running campaigns for completion (see
``handlers.complete_finished_campaigns``). ``now`` comes from an injected clock, so
tests move time instead of sleeping.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import asyncpg

from disparo_campaign_api.campaign_settings import campaign_settings
from disparo_campaign_api.campaigns.handlers import SQL, complete_finished_campaigns, start_locked
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.events import utc_now
from disparo_shared.logging import get_logger
from disparo_shared.problems import Problem
from disparo_shared.runtime import Runtime

log = get_logger(__name__)


async def start_due_campaigns(
    pool: asyncpg.Pool, now: datetime, zone_name: str = "America/Sao_Paulo"
) -> list[UUID]:
    """Start the campaigns scheduled at or before ``now``; return the ids this call started.

    A campaign that cannot start (its saved segment vanished, say) is logged and left scheduled
    for a person to fix or cancel; it does not hold back the others.
    """
    started: list[UUID] = []
    failed: list[UUID] = []
    while True:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(SQL.claim_due_campaign, now, failed)
            if row is None:
                return started
            try:
                async with conn.transaction():
                    await start_locked(conn, row, now, zone_name)
            except Problem as exc:
                failed.append(row["id"])
                log.error(
                    "scheduled campaign could not start",
                    campaign_id=str(row["id"]),
                    reason=exc.detail,
                )
                continue
            started.append(row["id"])
            log.info("scheduled campaign started", campaign_id=str(row["id"]))


async def scheduler_tick(pool: asyncpg.Pool, now: datetime, zone_name: str) -> None:
    await start_due_campaigns(pool, now, zone_name)
    for campaign_id in await complete_finished_campaigns(pool, now):
        log.info("campaign completed", campaign_id=str(campaign_id))


async def run_scheduler(
    pool: asyncpg.Pool,
    clock: Callable[[], datetime],
    poll_seconds: float,
    zone_name: str = "America/Sao_Paulo",
) -> None:
    """Tick every ``poll_seconds`` until cancelled; a failed tick is logged and retried."""
    while True:
        try:
            await scheduler_tick(pool, clock(), zone_name)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("scheduler tick failed; retrying", error=str(exc))
        await asyncio.sleep(poll_seconds)


async def campaign_scheduler(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """The worker: every ``scheduler_poll_seconds``, start due campaigns, complete finished ones."""
    await run_scheduler(
        runtime.pool,
        utc_now,
        settings.scheduler_poll_seconds,
        campaign_settings().campaign_time_zone,
    )
