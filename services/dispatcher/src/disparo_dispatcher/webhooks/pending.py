"""Statuses parked before their message was known: matched once it is, dropped when too old.

``resolve_pending_statuses`` takes the parked statuses whose provider id now appears on one of
our messages and tells their facts exactly as a live webhook would (same fact table, so nothing
is told twice). The send path may call it right after committing sent results; the
``resolve_pending_webhooks`` worker calls it every ``pending_resolve_interval_seconds``
(default 1 s) in any case, so a parked status is told at most about a second after its send's
commit. Parked statuses older than ``pending_status_ttl_seconds`` (1 h) are dropped, and inbound
receipts older than ``receipt_retention_days`` are forgotten, in the same loop.
"""

import asyncio
from datetime import datetime, timedelta

import asyncpg

from disparo_dispatcher.webhooks.parsing import Clock, utc_now
from disparo_dispatcher.webhooks.recording import QUERIES, find_messages, tell_status_facts
from disparo_dispatcher.webhooks.settings import WebhookSettings, load_webhook_settings
from disparo_dispatcher.webhooks.updates import DeliveryStatus, StatusUpdate
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events
from disparo_shared.runtime import Runtime

log = get_logger(__name__)

RESOLVE_BATCH = 500


async def resolve_pending_statuses(
    conn: asyncpg.Connection, now: datetime, limit: int = RESOLVE_BATCH
) -> int:
    """Tell the parked statuses whose message is now known; return how many were taken."""
    async with conn.transaction():
        rows = await conn.fetch(QUERIES.take_resolvable_pending_statuses, limit)
        if not rows:
            return 0
        statuses = [
            StatusUpdate(
                provider=row["provider"],
                address=row["address"],
                provider_message_id=row["provider_message_id"],
                status=DeliveryStatus(row["status"]),
                at=row["at"],
                error_code=row["error_code"],
                error=row["error"],
            )
            for row in rows
        ]
        resolved, _ = await find_messages(conn, statuses)
        events, traced = await tell_status_facts(conn, resolved, now)
        await add_events(conn, events, traced)
    return len(rows)


async def expire_webhook_bookkeeping(
    conn: asyncpg.Connection, now: datetime, settings: WebhookSettings
) -> None:
    """Drop statuses that waited past their TTL and inbound receipts past retention."""
    expired = await conn.execute(
        QUERIES.expire_pending_statuses,
        now - timedelta(seconds=settings.pending_status_ttl_seconds),
    )
    await conn.execute(
        QUERIES.prune_inbound_receipts, now - timedelta(days=settings.receipt_retention_days)
    )
    if expired != "DELETE 0":
        log.info("parked webhook statuses expired unresolved", result=expired)


async def resolve_pending_webhooks(
    runtime: Runtime, settings: WebhookSettings | None = None, clock: Clock = utc_now
) -> None:
    """Background worker: resolve parked statuses, then expire old bookkeeping, forever."""
    settings = settings or load_webhook_settings()
    while True:
        async with runtime.pool.acquire() as conn:
            while await resolve_pending_statuses(conn, clock()) >= RESOLVE_BATCH:
                pass
            await expire_webhook_bookkeeping(conn, clock(), settings)
        await asyncio.sleep(settings.pending_resolve_interval_seconds)


WEBHOOK_WORKERS = [resolve_pending_webhooks]
"""Background workers the dispatcher app starts beside ``WEBHOOK_ROUTES``."""
