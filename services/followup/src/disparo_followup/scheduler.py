"""Runs the follow-up job once per daily slot (default 10:00 America/Sao_Paulo).

The worker wakes at least once a minute, so a clock change or a suspended host costs at most a
minute. Each slot is claimed in ``job_runs`` before running: a restart, or a second replica,
finds it taken and does nothing. A service that was down at the slot runs it on start when at
most ``catch_up_hours`` late; later than that it waits for the next day rather than sending
follow-ups at an odd hour.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from disparo_followup.job import FollowupSummary, request_due_followups
from disparo_followup.metrics import JOB_LAST_SUCCESS
from disparo_followup.schedule import latest_slot, next_run_at
from disparo_followup.settings import FollowupSettings
from disparo_followup.slack import post_summary
from disparo_shared.queries import load_queries
from disparo_shared.runtime import Runtime

SQL = load_queries(Path(__file__).parent / "sql" / "followups.sql")
_POLL = timedelta(minutes=1)
_MIN_CATCH_UP = timedelta(minutes=5)  # wider than the poll, so a slot is never skipped


async def run_and_report(
    pool: asyncpg.Pool, settings: FollowupSettings, now: datetime
) -> FollowupSummary:
    """Request due follow-ups, then post the summary to Slack when a webhook is set."""
    summary = await request_due_followups(pool, settings, now)
    record_success(now)
    if settings.slack_webhook_url is not None:
        async with httpx.AsyncClient() as client:
            await post_summary(client, settings.slack_webhook_url, summary)
    return summary


_last_success = [0.0]  # unix seconds of the latest success this process has seen


def record_success(at: datetime | None) -> None:
    """Move the last-success gauge forward (never back: replicas and runs report in any order)."""
    if at is not None and at.timestamp() > _last_success[0]:
        _last_success[0] = at.timestamp()
        JOB_LAST_SUCCESS.set(_last_success[0])


async def run_slot_if_due(
    pool: asyncpg.Pool, settings: FollowupSettings, now: datetime
) -> FollowupSummary | None:
    """Run the latest slot if it is recent enough and nobody ran it yet."""
    slot = latest_slot(now, settings.run_at, settings.zone)
    if now - slot > max(timedelta(hours=settings.catch_up_hours), _MIN_CATCH_UP):
        return None
    if await pool.fetchval(SQL.claim_slot, slot, now) is None:
        return None
    summary = await run_and_report(pool, settings, now)
    await pool.execute(SQL.finish_slot, slot, summary.requested)
    return summary


def daily_followups_worker(
    settings: FollowupSettings,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Callable[[Runtime], Awaitable[None]]:
    async def daily_followups(runtime: Runtime) -> None:
        while True:
            now = clock()
            await run_slot_if_due(runtime.pool, settings, now)
            # any replica reports the shared slot's success, not only the one that ran it
            record_success(await runtime.pool.fetchval(SQL.last_successful_run))
            until_next = next_run_at(now, settings.run_at, settings.zone) - now
            await sleep(min(until_next, _POLL).total_seconds())

    return daily_followups
