"""A real Prometheus scrapes the running services and fires one of our alerts end to end.

The simulator is told to space messages to one doctor by 20 s while the test dispatcher spaces
them by 0: its second message to the same doctor is answered 131056 (pair rate limit), again at
each quick retry, and DisparoProviderRateLimited ("our limiter let too much through") fires from
the rule file operators deploy, with its severity and runbook.
"""

import os
import uuid
from pathlib import Path

import httpx
import pytest

from disparo.embedded import free_port
from disparo.observability import (
    ALERT_RULES,
    INSTALL_HINT,
    SERVICES,
    PrometheusServer,
    find_binary,
    prometheus_config,
)
from disparo_shared.testing.fixtures import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    if find_binary("prometheus") is None:
        if os.environ.get("DISPARO_CI") == "1":
            pytest.fail(f"{INSTALL_HINT}; CI must have it (.ci/run installs it).")
        pytest.skip(INSTALL_HINT)
    server = PrometheusServer(Path(tmp_path_factory.mktemp("prometheus")), free_port())
    server.start(prometheus_config(stack.ports, [ALERT_RULES], interval_seconds=1))
    yield server
    server.stop()


async def test_prometheus_scrapes_every_service_and_an_alert_fires(stack, prometheus) -> None:
    async with httpx.AsyncClient(base_url=prometheus.url, timeout=5) as api:

        async def every_service_up() -> bool:
            targets = (await api.get("/api/v1/targets")).json()["data"]["activeTargets"]
            healthy = {t["labels"]["job"] for t in targets if t["health"] == "up"}
            return healthy == set(SERVICES)

        await eventually(every_service_up, timeout=30)

        before = (await stack.simulator.get("/_sim/config")).json()["pair_spacing_seconds"]
        await stack.simulator.put("/_sim/config", json={"pair_spacing_seconds": 20})
        try:
            phone = f"+551198{uuid.uuid4().int % 10**7:07d}"
            for n in range(3):
                answer = await stack.post_message(phone, f"Plantão {n}?", str(uuid.uuid4()))
                assert answer.status_code == 202, answer.text

            async def alert_firing() -> dict | None:
                alerts = (await api.get("/api/v1/alerts")).json()["data"]["alerts"]
                return next(
                    (
                        a
                        for a in alerts
                        if a["labels"]["alertname"] == "DisparoProviderRateLimited"
                        and a["state"] == "firing"
                    ),
                    None,
                )

            alert = await eventually(alert_firing, timeout=60, interval=0.5)
        finally:
            await stack.simulator.put("/_sim/config", json={"pair_spacing_seconds": before})

    assert alert["labels"]["code"] in {"131056", "http_429"}  # Cloud or Evolution dialect
    assert alert["labels"]["severity"] == "ticket"
    assert alert["annotations"]["runbook_url"] == "README.md#disparoproviderratelimited"
