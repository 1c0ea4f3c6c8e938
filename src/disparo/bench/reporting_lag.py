"""How far reporting's projections trail the sends during a dispatch run (``--reporting N``).

Reporting replicas consume the same streams the dispatcher publishes to; every few seconds the
benchmark reads how many sends reporting has projected (``reporting.messages.sent_at``) and how
many events its inbox holds, next to what the simulator accepted. The figures: events projected
per second while it had work, the largest gap between sends accepted and sends projected, and
how long after the last send reporting had every send (its catch-up).
"""

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "reporting.sql")
SAMPLE_SECONDS = 5.0


@dataclass(frozen=True)
class ReportingSample:
    at: float  # seconds since the run started
    accepted: int  # sends the simulator accepted
    projected_sent: int  # of which reporting shows as sent
    events: int  # events reporting has projected (its inbox)


@dataclass
class ReportingWatch:
    """Samples reporting's progress against the simulator's; ``started`` is the run's start."""

    started: float
    samples: list[ReportingSample] = field(default_factory=list)
    caught_up_at: float | None = None  # seconds since start when every send was projected
    last_send_at: float | None = None  # seconds since start of the last accepted send
    _sampled_at: float = float("-inf")

    async def sample(
        self, db: asyncpg.Connection, accepted: int, now: float, force: bool = False
    ) -> ReportingSample | None:
        if not force and now - self._sampled_at < SAMPLE_SECONDS:
            return None
        self._sampled_at = now
        row = await db.fetchrow(SQL.reporting_progress)
        point = ReportingSample(
            at=now - self.started,
            accepted=accepted,
            projected_sent=row["projected_sent"],
            events=row["events"],
        )
        self.samples.append(point)
        return point

    async def catch_up(
        self, db: asyncpg.Connection, accepted: int, last_send_at: float, deadline: float
    ) -> bool:
        """Wait (until ``deadline``, monotonic) for reporting to show every accepted send."""
        self.last_send_at = last_send_at - self.started
        while time.monotonic() < deadline:
            point = await self.sample(db, accepted, time.monotonic(), force=True)
            if point is not None and point.projected_sent >= accepted:
                self.caught_up_at = point.at
                return True
            await asyncio.sleep(1.0)
        return False

    def summary(self, cpu_seconds: float | None) -> dict:
        """Events/s over the time reporting had work, the largest lag and the catch-up."""
        if not self.samples:
            return {}
        last = self.samples[-1]
        busy_seconds = (self.caught_up_at or last.at) or None
        lag_max = max(s.accepted - s.projected_sent for s in self.samples)
        return {
            "events": last.events,
            "events_per_second": round(last.events / busy_seconds, 1) if busy_seconds else None,
            "sends_projected": last.projected_sent,
            "lag_max_sends": lag_max,
            "catch_up_seconds": (
                round(self.caught_up_at - self.last_send_at, 1)
                if self.caught_up_at is not None and self.last_send_at is not None
                else None
            ),
            "cpu_seconds_per_1000_events": (
                round(cpu_seconds * 1000 / last.events, 3)
                if cpu_seconds is not None and last.events
                else None
            ),
            # An event may carry many sends (``message.sent`` is a flush's): per send compares.
            "cpu_seconds_per_1000_sends": (
                round(cpu_seconds * 1000 / last.projected_sent, 3)
                if cpu_seconds is not None and last.projected_sent
                else None
            ),
            "by_sample": [
                {
                    "at": round(s.at, 1),
                    "accepted": s.accepted,
                    "projected_sent": s.projected_sent,
                    "events": s.events,
                }
                for s in self.samples
            ],
        }
