"""Every service's ASGI app, built the way its ``__main__`` builds it, for checks that must
cover all of them (the metrics they export, the OpenAPI they publish).

A service added to ``SERVICES`` is covered by every such check; routes added to an existing
service are covered without touching this file.
"""

from collections.abc import Callable

from litestar import Litestar

from disparo_shared.runtime import KernelSettings


def _campaign_api(kernel: KernelSettings) -> Litestar:
    from disparo_campaign_api.app import create_app
    from disparo_campaign_api.settings import CampaignApiSettings

    return create_app(kernel, CampaignApiSettings())


def _dispatcher(kernel: KernelSettings) -> Litestar:
    from disparo_dispatcher.app import create_app
    from disparo_dispatcher.settings import DispatcherSettings

    return create_app(kernel, DispatcherSettings())


def _followup(kernel: KernelSettings) -> Litestar:
    from disparo_followup.app import create_app
    from disparo_followup.settings import FollowupSettings

    return create_app(kernel, FollowupSettings(), run_daily_job=False)


def _reporting(kernel: KernelSettings) -> Litestar:
    from disparo_reporting.app import create_app
    from disparo_reporting.settings import ReportingSettings

    return create_app(kernel, ReportingSettings())


SERVICES: dict[str, Callable[[KernelSettings], Litestar]] = {
    "campaign-api": _campaign_api,
    "dispatcher": _dispatcher,
    "followup": _followup,
    "reporting": _reporting,
}
