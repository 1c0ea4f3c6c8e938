"""What a written flush adds to the metrics: sends by sender, and the wait from enqueue to the
provider's acceptance by priority, for the sends still this attempt's only."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from disparo_dispatcher.providers.base import Accepted
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.recording import Batch, count_recorded
from disparo_dispatcher.results import Outcome

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LATENCY = "disparo_dispatcher_enqueue_to_sent_seconds"


def _accepted(sender: str, priority: int, waited_seconds: float) -> Outcome:
    message = ClaimedMessage(
        uuid4(), "+5511900000001", "Olá", "campaign", priority, None, None, None, sender, 1, 3,
        "America/Sao_Paulo", T0, T0, None, None, 0, False, None, None,
    )  # fmt: skip
    return Outcome(sender, message, Accepted("wamid.1"), T0 + timedelta(seconds=waited_seconds))


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_latency_is_observed_per_priority_and_only_for_confirmed_sends():
    sender = f"metrics-{uuid4().hex[:8]}"
    reply, campaign, campaign_late, stale = (
        _accepted(sender, 10, 0.2),
        _accepted(sender, 0, 3.0),
        _accepted(sender, 0, 20.0),
        _accepted(sender, 0, 1.0),  # a reclaimed attempt's answer: not confirmed
    )
    confirmed = {o.message.message_id for o in (reply, campaign, campaign_late)}
    before = {
        p: (
            _sample(f"{LATENCY}_count", {"priority": p}),
            _sample(f"{LATENCY}_sum", {"priority": p}),
        )
        for p in ("0", "10")
    }

    count_recorded(Batch(accepted=[reply, campaign, campaign_late, stale]), confirmed, set())

    def added(priority: str, suffix: str) -> float:
        index = 0 if suffix == "_count" else 1
        return _sample(LATENCY + suffix, {"priority": priority}) - before[priority][index]

    assert added("10", "_count") == 1 and added("10", "_sum") == pytest.approx(0.2)
    assert added("0", "_count") == 2 and added("0", "_sum") == pytest.approx(23.0)
    assert _sample("disparo_dispatcher_sends_total", {"sender": sender, "outcome": "accepted"}) == 3
