"""Wiring of the dispatcher: its subscriptions, HTTP routes and background loops, in one place."""

import importlib.util
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from litestar import Litestar, Router
from litestar.di import Provide

from disparo_dispatcher import archive, privacy
from disparo_dispatcher.admin import admin_router
from disparo_dispatcher.clock import utc_now
from disparo_dispatcher.intake_gate import IntakeGate
from disparo_dispatcher.sender_policy import SenderPolicy
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.spec import SPEC
from disparo_dispatcher.subscribers import register_subscribers
from disparo_dispatcher.templates_api import templates_router
from disparo_dispatcher.webhooks.settings import WebhookSettings, load_webhook_settings
from disparo_dispatcher.worker import Dispatcher
from disparo_shared.retention import retention_worker
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


def sender_policy(settings: DispatcherSettings, mode: str) -> SenderPolicy:
    """The sender policy of these settings; configured seeds that break it stop the start."""
    policy = SenderPolicy(
        credential_variables=frozenset(settings.credential_variables),
        provider_hosts=frozenset(settings.provider_hosts),
        mode=mode,
    )
    for seed in settings.senders:
        found = policy.problems(
            base_url=seed.base_url, credential_ref=seed.credential_ref, from_settings=True
        )
        if found:
            reasons = "; ".join(f"{field} {reason}" for field, reason in found)
            raise ValueError(f"DISPARO_DISPATCHER_SENDERS: sender {seed.sender_id}: {reasons}")
    return policy


def create_app(
    kernel: KernelSettings,
    settings: DispatcherSettings,
    clock: Callable[[], datetime] = utc_now,
    webhook_settings: WebhookSettings | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Litestar:
    """The dispatcher as an ASGI app; ``app.state.dispatcher`` is its send loop (for tests)."""
    webhook_secrets = (webhook_settings or load_webhook_settings()).secrets()
    policy = sender_policy(settings, kernel.deployment.env)
    provider_tokens = {name: environ.get(name, "") for name in settings.credential_variables}
    runtime = Runtime(SPEC, kernel)
    placement = PlacementCache(settings)
    dispatcher = Dispatcher(settings, placement, clock=clock)
    intake = IntakeGate(settings.intake_concurrency, sending=dispatcher.sending)
    register_subscribers(runtime, settings, placement, clock, intake)

    async def send_queue(rt: Runtime) -> None:
        await dispatcher.run(rt.pool)

    webhook_routes, webhook_workers = _webhooks(runtime)
    app = build_app(
        runtime,
        [
            admin_router(
                runtime,
                clock,
                policy,
                settings.default_messaging_tier,
                settings.time_zone,
                settings.warmup_daily_caps,
                lambda: dispatcher.queue_reading,
            ),
            templates_router(runtime, clock),
            *webhook_routes,
        ],
        workers=[
            send_queue,
            *webhook_workers,
            _retention(settings, clock),
            retention_worker(
                "dispatcher_archive",
                archive.prune_archive,
                keep=timedelta(days=settings.archive_retention_days),
                interval_seconds=settings.retention_interval_seconds,
                clock=clock,
            ),
            privacy.pending_erasures_worker(settings.erasure_check_seconds),
        ],
        secrets={**webhook_secrets, **provider_tokens},
    )
    app.state.dispatcher = dispatcher
    app.state.runtime = runtime
    return app


def _retention(settings: DispatcherSettings, clock: Callable[[], datetime]):
    return retention_worker(
        "dispatcher_messages",
        privacy.prune_expired,
        keep=timedelta(days=settings.message_retention_days),
        interval_seconds=settings.retention_interval_seconds,
        clock=clock,
    )
