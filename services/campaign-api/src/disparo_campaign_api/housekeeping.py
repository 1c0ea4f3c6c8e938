"""Forgetting what no retry or redelivery can need any more: old idempotency keys and inbox ids."""

import asyncio
from datetime import timedelta

from disparo_campaign_api.idempotency import prune_idempotency_keys
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.events import utc_now
from disparo_shared.inbox import prune_inbox
from disparo_shared.logging import get_logger
from disparo_shared.runtime import Runtime

log = get_logger(__name__)

INBOX_RETENTION_DAYS = 30  # the streams keep events 30 days; no redelivery is older


async def prune_expired_records(runtime: Runtime, settings: CampaignApiSettings) -> None:
    """Every ``housekeeping_interval_seconds``: drop expired idempotency keys and inbox ids."""
    while True:
        cutoff = utc_now() - timedelta(hours=settings.idempotency_retention_hours)
        keys = await prune_idempotency_keys(runtime.pool, cutoff)
        async with runtime.pool.acquire() as conn:
            ids = await prune_inbox(conn, INBOX_RETENTION_DAYS)
        if keys or ids:
            log.info("pruned expired records", idempotency_keys=keys, inbox_ids=ids)
        await asyncio.sleep(settings.housekeeping_interval_seconds)
