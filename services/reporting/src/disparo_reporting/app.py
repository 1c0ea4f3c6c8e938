"""Wiring of the reporting service: runtime, subscribers and routes in one place."""

from collections.abc import Callable
from datetime import datetime, timedelta

from litestar import Litestar

from disparo_reporting import privacy
from disparo_reporting.routes import reporting_router
from disparo_reporting.settings import ReportingSettings
from disparo_reporting.spec import SPEC
from disparo_reporting.subscribers import register_subscribers
from disparo_shared.events import utc_now
from disparo_shared.retention import retention_worker
from disparo_shared.runtime import KernelSettings, Runtime, build_app


def create_app(
    kernel: KernelSettings,
    settings: ReportingSettings,
    clock: Callable[[], datetime] = utc_now,
) -> Litestar:
    runtime = Runtime(SPEC, kernel)
    register_subscribers(runtime, settings)
    retention = retention_worker(
        "reporting_phones",
        privacy.prune_expired,
        keep=timedelta(days=settings.phone_retention_days),
        interval_seconds=settings.retention_interval_seconds,
        clock=clock,
    )
    return build_app(runtime, [reporting_router(runtime, settings, clock)], [retention])
