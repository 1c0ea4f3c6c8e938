"""Wiring of the dispatcher: its subscriptions, HTTP routes and background loops, in one place."""

import importlib.util
from collections.abc import Awaitable, Callable
from datetime import datetime

from litestar import Litestar, Router
from litestar.di import Provide

from disparo_dispatcher.admin import admin_router
from disparo_dispatcher.clock import utc_now
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.spec import SPEC
from disparo_dispatcher.subscribers import register_subscribers
from disparo_dispatcher.templates_api import templates_router
from disparo_dispatcher.webhooks.settings import WebhookSettings, load_webhook_settings
from disparo_dispatcher.worker import Dispatcher
from disparo_shared.runtime import KernelSettings, Runtime, build_app

Worker = Callable[[Runtime], Awaitable[None]]


def _webhooks(runtime: Runtime) -> tuple[list[Router], list[Worker]]:
    """The provider webhook routes (given the ``pool`` they need) and their resolver loop."""
    if importlib.util.find_spec("disparo_dispatcher.webhooks.routes") is None:
        return [], []
    from disparo_dispatcher.webhooks.routes import WEBHOOK_ROUTES

    router = Router(
        path="/",
        route_handlers=list(WEBHOOK_ROUTES),
        dependencies={"pool": Provide(lambda: runtime.pool, sync_to_thread=False)},
    )
    workers: list[Worker] = []
    if importlib.util.find_spec("disparo_dispatcher.webhooks.pending") is not None:
        from disparo_dispatcher.webhooks.pending import resolve_pending_webhooks

        workers.append(resolve_pending_webhooks)
    return [router], workers


def create_app(
    kernel: KernelSettings,
    settings: DispatcherSettings,
    clock: Callable[[], datetime] = utc_now,
    webhook_settings: WebhookSettings | None = None,
) -> Litestar:
    """The dispatcher as an ASGI app; ``app.state.dispatcher`` is its send loop (for tests)."""
    webhook_secrets = (webhook_settings or load_webhook_settings()).secrets()
    runtime = Runtime(SPEC, kernel)
    placement = PlacementCache(settings)
    dispatcher = Dispatcher(settings, placement, clock=clock)
    register_subscribers(runtime, settings, placement, clock)

    async def send_queue(rt: Runtime) -> None:
        await dispatcher.run(rt.pool)

    webhook_routes, webhook_workers = _webhooks(runtime)
    app = build_app(
        runtime,
        [admin_router(runtime, clock), templates_router(runtime, clock), *webhook_routes],
        workers=[send_queue, *webhook_workers],
        secrets=webhook_secrets,
    )
    app.state.dispatcher = dispatcher
    app.state.runtime = runtime
    return app
