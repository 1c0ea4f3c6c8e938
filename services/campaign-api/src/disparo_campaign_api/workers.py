"""Background loops of campaign-api (the scheduler, housekeeping), started with the service.

A worker is ``async def worker(runtime, settings) -> None`` that loops until cancelled; the
runtime restarts it after a crash (``disparo_shared.runtime.supervise``). Append to ``WORKERS``.
"""

from collections.abc import Awaitable, Callable

from disparo_campaign_api.campaigns.fanout import campaign_fanout
from disparo_campaign_api.campaigns.scheduler import campaign_scheduler
from disparo_campaign_api.housekeeping import prune_expired_records
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.runtime import Runtime

Worker = Callable[[Runtime, CampaignApiSettings], Awaitable[None]]

WORKERS: list[Worker] = [
    prune_expired_records,
    campaign_scheduler,
    campaign_fanout,
]
