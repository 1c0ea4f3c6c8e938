"""The dispatchers' claim counters, read from their /metrics while the benchmark runs.

Each replica counts its own claims (``disparo_dispatcher_claim_seconds``), claimed messages
(``disparo_dispatcher_claimed_total``) and event loop lag samples
(``disparo_event_loop_lag_seconds``) from zero, and a killed replica starts again from zero:
``ClaimCounters`` keeps one running total per replica, folding a restart's reset into it.
"""

from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

_WANTED = {
    "disparo_dispatcher_claim_seconds_count": "claims",
    "disparo_dispatcher_claim_seconds_sum": "claim_seconds",
    "disparo_dispatcher_claimed_total": "claimed",
    "disparo_event_loop_lag_seconds_count": "lag_samples",
    "disparo_event_loop_lag_seconds_sum": "lag_seconds",
}
LATE_BUCKET = ("disparo_event_loop_lag_seconds_bucket", "0.1")  # woke within 0.1 s of asked
# The urgent consumer's two parts of publish → enqueued, as cumulative buckets ("wait≤0.25")
URGENT_INTAKE = {
    "disparo_dispatcher_intake_wait_seconds_bucket": "wait",
    "disparo_dispatcher_intake_handler_seconds_bucket": "handler",
}


def read_claim_counters(metrics_text: str) -> dict[str, float]:
    """``claims``, ``claim_seconds``, ``claimed``, the loop lag's samples (all, their sum,
    and those within 0.1 s) and the urgent intake's buckets from one replica's exposition."""
    found = dict.fromkeys([*_WANTED.values(), "lag_on_time"], 0.0)
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name in _WANTED:
                found[_WANTED[sample.name]] += sample.value
            elif (sample.name, sample.labels.get("le")) == LATE_BUCKET:
                found["lag_on_time"] += sample.value
            elif sample.name in URGENT_INTAKE and sample.labels.get("consumer") == "urgent":
                found[f"{URGENT_INTAKE[sample.name]}≤{sample.labels['le']}"] = sample.value
    return found


def bucket_quantile(totals: dict[str, float], part: str, quantile: float) -> float | None:
    """The upper bound (seconds) of the bucket holding ``quantile`` of an urgent intake
    ``part`` (``wait`` or ``handler``); None before any observation."""
    buckets = sorted(
        (float(key.split("≤")[1]), count)
        for key, count in totals.items()
        if key.startswith(f"{part}≤")
    )
    if not buckets or buckets[-1][1] == 0:
        return None
    wanted = quantile * buckets[-1][1]
    return next(bound for bound, count in buckets if count >= wanted)


@dataclass
class _Running:
    last: dict[str, float] = field(default_factory=dict)
    carried: dict[str, float] = field(default_factory=dict)  # totals before the last restart

    def update(self, raw: dict[str, float]) -> dict[str, float]:
        for key, value in raw.items():
            if value < self.last.get(key, 0.0):  # the replica restarted from zero
                self.carried[key] = self.carried.get(key, 0.0) + self.last[key]
            self.last[key] = value
        return {key: self.carried.get(key, 0.0) + value for key, value in self.last.items()}


class ClaimCounters:
    """Totals over every replica; a replica that does not answer keeps its last figures."""

    def __init__(self) -> None:
        self._replicas: dict[str, _Running] = {}
        self._totals: dict[str, dict[str, float]] = {}

    def fold(self, replica: str, metrics_text: str) -> None:
        running = self._replicas.setdefault(replica, _Running())
        self._totals[replica] = running.update(read_claim_counters(metrics_text))

    async def poll(self, client: httpx.AsyncClient, urls: dict[str, str]) -> None:
        for replica, url in urls.items():
            try:
                response = await client.get(f"{url}/metrics", timeout=2.0)
            except httpx.HTTPError:
                continue  # being killed or restarted: its last figures stand
            if response.status_code == 200:
                self.fold(replica, response.text)

    def by_replica(self, figure: str = "claimed") -> dict[str, float]:
        """One figure per replica (a restarted replica's counts folded in)."""
        return {replica: figures.get(figure, 0.0) for replica, figures in self._totals.items()}

    def totals(self) -> dict[str, float]:
        summed = dict.fromkeys([*_WANTED.values(), "lag_on_time"], 0.0)
        for figures in self._totals.values():
            for key, value in figures.items():
                summed[key] = summed.get(key, 0.0) + value
        return summed
