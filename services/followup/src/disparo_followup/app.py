"""Wiring of the followup service: runtime, subscribers, the daily job and routes."""

from collections.abc import Callable
from datetime import datetime

from litestar import Litestar

from disparo_followup.routes import followup_router
from disparo_followup.scheduler import daily_followups_worker
from disparo_followup.settings import FollowupSettings
from disparo_followup.spec import SPEC
from disparo_followup.subscribers import register_subscribers
from disparo_shared.events import utc_now
from disparo_shared.runtime import KernelSettings, Runtime, build_app


def create_app(
    kernel: KernelSettings,
    settings: FollowupSettings,
    clock: Callable[[], datetime] = utc_now,
    run_daily_job: bool = True,
) -> Litestar:
    """``run_daily_job=False`` leaves the schedule out (tests drive the job over HTTP)."""
    runtime = Runtime(SPEC, kernel)
    register_subscribers(runtime, settings)
    workers = [daily_followups_worker(settings, clock)] if run_daily_job else []
    return build_app(runtime, [followup_router(runtime, settings, clock)], workers)
