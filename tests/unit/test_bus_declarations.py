"""Each service's declared bus rights match what its code subscribes to and publishes.

The closed bus's permissions are generated from ``ServiceSpec.bus``; a subscriber or an event
the declaration misses would work on the open test server and fail on a real deployment. These
checks make the miss fail here instead.
"""

import ast
import importlib
from pathlib import Path

import pytest

from disparo_shared.events import Event
from disparo_shared.runtime import KernelSettings, undeclared_consumers
from disparo_shared.testing.fixtures import all_service_specs

SERVICES = {
    "campaign-api": ("disparo_campaign_api", "CampaignApiSettings"),
    "dispatcher": ("disparo_dispatcher", "DispatcherSettings"),
    "followup": ("disparo_followup", "FollowupSettings"),
    "reporting": ("disparo_reporting", "ReportingSettings"),
}


def _event_classes() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if hasattr(cls, "subject"):
            found[cls.__name__] = cls
    return found


def published_subjects(package: str) -> set[str]:
    """Subjects of the events a package builds (``Event(...)``, ``Event.model_validate(...)``)
    or names for the outbox (``Event.subject``), outside its test helpers: every subject its
    events may be published on (``Event.every_subject``)."""
    events = _event_classes()
    root = Path(importlib.import_module(package).__file__).parent
    subjects: set[str] = set()
    for path in root.rglob("*.py"):
        if path.name == "testing.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            target = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                target = node.func.id
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in ("model_validate", "model_validate_json", "subject")
                and isinstance(node.value, ast.Name)
            ):
                target = node.value.id
            if target in events:
                subjects.update(events[target].every_subject())
    return subjects


@pytest.mark.parametrize("spec", all_service_specs(), ids=lambda spec: spec.name)
def test_every_subscriber_of_a_service_is_declared(spec) -> None:
    package, settings_name = SERVICES[spec.name]
    app_module = importlib.import_module(f"{package}.app")
    settings = getattr(importlib.import_module(f"{package}.settings"), settings_name)()
    app = app_module.create_app(KernelSettings(), settings)
    runtime = app.state.runtime
    assert runtime.broker.subscribers, "the service wires no subscriber: nothing was checked"
    assert undeclared_consumers(spec, runtime.broker, "") == []


@pytest.mark.parametrize("spec", all_service_specs(), ids=lambda spec: spec.name)
def test_every_event_a_service_builds_is_a_subject_it_may_publish(spec) -> None:
    package, _ = SERVICES[spec.name]
    undeclared = published_subjects(package) - set(spec.bus.publishes)
    assert not undeclared, (
        f"{spec.name} builds events on {sorted(undeclared)} without declaring them in "
        "ServiceSpec.bus.publishes (a parsed-only event: validate it through a variable)"
    )
