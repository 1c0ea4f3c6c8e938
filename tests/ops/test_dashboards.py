"""Every Grafana panel and every alert rule reads metrics the services really export.

The exported names are collected from the running registries: each service's app is built (its
metrics, the broker's and the kernel's register), one is started and asked for ``/metrics``
(after one request, so the HTTP metrics exist), and the exposition is parsed — a family with no
sample yet still announces its name and type.
"""

import json
import re

import yaml
from litestar.testing import AsyncTestClient
from ops_paths import GRAFANA_DIR, PROMETHEUS_DIR
from ops_promql import metric_names
from ops_services import SERVICES
from prometheus_client.parser import text_string_to_metric_families

from disparo_shared.testing.fixtures import TEST_API_KEY

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}
SCRAPE_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
"""Series Prometheus adds to every scrape itself."""


async def exported_metric_names(kernel_settings) -> set[str]:
    apps = {name: build(kernel_settings) for name, build in SERVICES.items()}
    async with AsyncTestClient(apps["reporting"], base_url="http://reporting.local") as client:
        await client.get("/health", headers={"X-API-Key": TEST_API_KEY})
        exposition = (await client.get("/metrics")).text
    names = set(SCRAPE_METRICS)
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expression) of every panel target and query variable of every dashboard."""
    found = []
    for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            targets = panel.get("targets", [])
            assert targets, f"{path.name}: panel {panel['title']!r} has no query"
            found += [(f"{path.name}: {panel['title']}", t["expr"]) for t in targets]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":  # label_values(<metric>, <label>)
                metric = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
                assert metric, f"{path.name}: ${variable['name']} is not label_values(m, l)"
                found.append((f"{path.name}: ${variable['name']}", metric.group(1)))
    return found


def rule_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    return [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]


async def test_every_dashboard_and_rule_reads_only_exported_metrics(kernel_settings) -> None:
    exported = await exported_metric_names(kernel_settings)
    assert "disparo_dispatcher_oldest_due_age_seconds" in exported  # the collection works
    unknown = []
    checked = 0
    for where, expr in dashboard_queries() + rule_expressions():
        names = metric_names(expr)
        assert names, f"{where}: {expr!r} reads no metric"
        checked += 1
        unknown += [f"{where}: {name}" for name in sorted(names - exported)]
    assert not unknown, "metrics no service exports:\n" + "\n".join(unknown)
    assert checked > 40


def test_the_dashboards_are_provisioned_with_unique_ids() -> None:
    boards = [json.loads(p.read_text()) for p in (GRAFANA_DIR / "dashboards").glob("*.json")]
    assert {b["uid"] for b in boards} >= {
        "disparo-overview",
        "disparo-senders",
        "disparo-campaigns",
        "disparo-followups",
        "disparo-services",
    }
    assert len({b["uid"] for b in boards}) == len(boards)
    for board in boards:
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), board["uid"]
    provisioning = GRAFANA_DIR / "provisioning" / "dashboards" / "disparo.yml"
    provider = yaml.safe_load(provisioning.read_text())
    assert provider["providers"][0]["type"] == "file"


def test_metric_names_sees_through_promql() -> None:
    assert metric_names('sum by (le) (rate(a_bucket{x="y"}[5m])) / clamp_min(b, 1e-9)') == {
        "a_bucket",
        "b",
    }
    assert metric_names("time() - max by (p) (c_seconds) > 2 * 86400") == {"c_seconds"}
