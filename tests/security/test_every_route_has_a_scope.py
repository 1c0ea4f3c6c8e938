"""Every route of every service needs a scope, and a key without it gets 403 on each one.

The table lists each route and its scope (printed with ``-s``); routes other streams add later
are covered by the defaults (``disparo_shared.access``) and checked here without being listed.
"""

import re
import uuid
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from disparo_shared.access import required_scope
from disparo_shared.api_keys import ACTING_USER, SCOPES, ApiKeyEntry, hash_api_key
from disparo_shared.dev_secrets import TEST_API_KEY
from disparo_shared.http import OPEN_PATHS
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import HttpSettings

NO_SCOPE_KEY = "a-key-that-may-only-speak-for-a-user"

# The routes that matter most, with the scope they must keep.
EXPECTED = {
    ("campaign-api", "POST", "/v1/messages"): "messages:send",
    ("campaign-api", "GET", "/v1/contacts"): "contacts:read",
    ("campaign-api", "POST", "/v1/contacts/import"): "contacts:write",
    ("campaign-api", "POST", "/v1/contacts/{contact_id:uuid}/opt-in"): "contacts:write",
    ("campaign-api", "POST", "/v1/campaigns/{campaign_id:uuid}/start"): "campaigns:write",
    ("campaign-api", "GET", "/v1/segments"): "campaigns:read",
    ("campaign-api", "GET", "/v1/audit"): "admin",
    ("dispatcher", "POST", "/v1/senders"): "admin",
    ("dispatcher", "PATCH", "/v1/senders/{sender_id:str}"): "admin",
    ("dispatcher", "GET", "/v1/senders"): "admin",
    ("dispatcher", "POST", "/v1/campaigns/{campaign_id:uuid}/requeue-failed"): "admin",
    ("reporting", "GET", "/v1/stats"): "reports:read",
    ("reporting", "POST", "/v1/admin/rebuild"): "admin",
    ("followup", "POST", "/v1/admin/followups/run"): "admin",
    # a doctor's data export: phones and texts in clear, in every service
    ("campaign-api", "GET", "/v1/contacts/{contact_id:uuid}/export"): "contacts:phones",
    ("dispatcher", "POST", "/v1/contacts/export"): "contacts:phones",
    ("followup", "POST", "/v1/contacts/export"): "contacts:phones",
    ("reporting", "POST", "/v1/contacts/export"): "contacts:phones",
}


def _apps(kernel: KernelSettings) -> dict[str, Callable[[], Litestar]]:
    from disparo_campaign_api.app import create_app as campaign_api
    from disparo_campaign_api.settings import CampaignApiSettings
    from disparo_dispatcher.app import create_app as dispatcher
    from disparo_dispatcher.settings import DispatcherSettings
    from disparo_followup.app import create_app as followup
    from disparo_followup.settings import FollowupSettings
    from disparo_reporting.app import create_app as reporting
    from disparo_reporting.settings import ReportingSettings

    return {
        "campaign-api": lambda: campaign_api(kernel, CampaignApiSettings()),
        "dispatcher": lambda: dispatcher(kernel, DispatcherSettings()),
        "reporting": lambda: reporting(kernel, ReportingSettings()),
        "followup": lambda: followup(kernel, FollowupSettings()),
    }


def _guarded_routes(app: Litestar) -> list[tuple[str, str, str, object]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        if any(re.search(p, route.path) for p in OPEN_PATHS):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                found.append((method, route.path, _concrete(route.path), handler))
    return found


def _concrete(path: str) -> str:
    path = re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), path)
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.fixture
def limited_kernel(kernel_settings: KernelSettings) -> KernelSettings:
    nothing = ApiKeyEntry(
        name="nothing", hash=hash_api_key("", NO_SCOPE_KEY), scopes=frozenset({ACTING_USER})
    )
    return KernelSettings(
        database=kernel_settings.database,
        nats=kernel_settings.nats,
        telemetry=kernel_settings.telemetry,
        http=HttpSettings(api_keys=[TEST_API_KEY, nothing]),
        deployment=kernel_settings.deployment,
    )


@pytest.mark.parametrize("service", ["campaign-api", "dispatcher", "reporting", "followup"])
async def test_every_route_needs_a_known_scope_and_refuses_a_key_without_it(
    service, limited_kernel
):
    app = _apps(limited_kernel)[service]()
    routes = _guarded_routes(app)
    assert routes, f"{service} has no guarded route"
    table = {(service, m, p): required_scope(h, m) for m, p, _, h in routes}
    print("\n".join(f"{m:6} {p:55} {s}" for (_, m, p), s in sorted(table.items())))
    assert {s for s in table.values()} <= set(SCOPES)
    for key, scope in EXPECTED.items():
        if key[0] == service:
            assert table.get(key) == scope, key
    async with AsyncTestClient(app) as client:
        for method, path_format, path, _ in routes:
            answer = await client.request(
                method, path, headers={"X-API-Key": NO_SCOPE_KEY}, content=b"{}"
            )
            assert answer.status_code == 403, (method, path_format, answer.status_code)
            anonymous = await client.request(method, path, content=b"{}")
            assert anonymous.status_code == 401, (method, path_format, anonymous.status_code)
