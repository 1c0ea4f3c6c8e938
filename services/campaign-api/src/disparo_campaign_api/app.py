"""Wiring of campaign-api: its controllers, subscribers and workers on the shared runtime."""

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
from litestar import Litestar, Router
from litestar.di import Provide

from disparo_campaign_api.campaigns.template_registry import registry_of
from disparo_campaign_api.routes import ROUTES
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_campaign_api.spec import SPEC
from disparo_campaign_api.subscribers import SUBSCRIBERS
from disparo_campaign_api.workers import WORKERS, Worker
from disparo_shared.events import utc_now
from disparo_shared.runtime import KernelSettings, Runtime, build_app


def create_app(kernel: KernelSettings, settings: CampaignApiSettings) -> Litestar:
    """The ASGI app; its lifespan migrates, connects, subscribes and starts the workers."""
    runtime = Runtime(SPEC, kernel)
    for register in SUBSCRIBERS:
        register(runtime, settings)

    def pool() -> asyncpg.Pool:
        return runtime.pool

    def clock() -> Callable[[], datetime]:
        return utc_now

    registry = registry_of(settings)

    api = Router(
        path="/",
        route_handlers=ROUTES,
        dependencies={
            "pool": Provide(pool, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "runtime": Provide(lambda: runtime, sync_to_thread=False),
            "clock": Provide(clock, sync_to_thread=False),
            "registry": Provide(lambda: registry, sync_to_thread=False),
        },
    )
    return build_app(runtime, [api], [_bind(worker, settings) for worker in WORKERS])


def _bind(worker: Worker, settings: CampaignApiSettings) -> Callable[[Runtime], Awaitable[None]]:
    async def run(runtime: Runtime) -> None:
        await worker(runtime, settings)

    run.__name__ = worker.__name__  # the runtime names the task (and its crash logs) after it
    return run
