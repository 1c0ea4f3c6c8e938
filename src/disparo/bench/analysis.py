"""The benchmark's arithmetic over the simulator's send log: pure functions, no I/O.

The simulator is the ground truth: every figure about sending (throughput, per-number peaks,
latency of urgent messages, duplicates) is computed from the sends it accepted, each with its
wall-clock ``accepted_at`` (unix seconds). The benchmark publishes on the same machine, so its
``time.time()`` and the simulator's share one clock and their difference is a latency.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Send:
    """One send the simulator accepted."""

    message_id: str | None
    sender: str
    accepted_at: float


@dataclass(frozen=True, slots=True)
class Throughput:
    """Accepted sends per second between the first and the last accepted send.

    With 100,000 sends accepted from t=0 to t=25 s, ``per_second`` is 4,000; against 50
    numbers at 80/s each (``allowed`` = 4,000/s) ``fraction_of_allowed`` is 1.0.
    """

    sends: int
    seconds: float
    per_second: float
    allowed_per_second: float
    fraction_of_allowed: float


def throughput(sends: Sequence[Send], allowed_per_second: float) -> Throughput:
    if len(sends) < 2:
        return Throughput(len(sends), 0.0, 0.0, allowed_per_second, 0.0)
    first = min(send.accepted_at for send in sends)
    last = max(send.accepted_at for send in sends)
    seconds = last - first
    per_second = len(sends) / seconds if seconds > 0 else 0.0
    fraction = per_second / allowed_per_second if allowed_per_second else 0.0
    return Throughput(len(sends), seconds, per_second, allowed_per_second, fraction)


def peak_per_window(times: Iterable[float], window_seconds: float = 1.0) -> int:
    """The largest number of ``times`` inside any half-open window ``(t - window, t]``.

    The same rule as the simulator's limiter: sends at 0.0, 0.5 and 1.0 peak at 2, because the
    send at 0.0 has left the window when the one at 1.0 arrives.
    """
    ordered = sorted(times)
    peak = 0
    start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window_seconds:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def peak_per_sender(sends: Iterable[Send], window_seconds: float = 1.0) -> dict[str, int]:
    """Each sending number's peak count of accepted sends in any one window."""
    by_sender: dict[str, list[float]] = defaultdict(list)
    for send in sends:
        by_sender[send.sender].append(send.accepted_at)
    return {sender: peak_per_window(times, window_seconds) for sender, times in by_sender.items()}


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``share`` of values at or
    below it (p99 of 200 values is the 198th smallest). None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Latency:
    """Publish-to-accepted latency of the urgent messages, in seconds."""

    published: int
    sent: int
    during_backlog: int  # published while campaign sends were still being accepted afterwards
    p50: float | None
    p99: float | None
    max: float | None


def urgent_latency(
    published_at: Mapping[str, float], sends: Sequence[Send], backlog_ids: set[str]
) -> Latency:
    """Latency of each urgent message from its publish time to its first accepted send.

    An urgent message counts as "during the backlog" when some campaign message (an id in
    ``backlog_ids``) was accepted after it was published, so it really had to jump a queue.
    """
    first_accept: dict[str, float] = {}
    last_backlog_send = 0.0
    for send in sends:
        if send.message_id in published_at:
            previous = first_accept.get(send.message_id)
            if previous is None or send.accepted_at < previous:
                first_accept[send.message_id] = send.accepted_at
        elif send.message_id in backlog_ids:
            last_backlog_send = max(last_backlog_send, send.accepted_at)
    latencies = [first_accept[m] - published_at[m] for m in first_accept]
    during = sum(1 for at in published_at.values() if at < last_backlog_send)
    return Latency(
        published=len(published_at),
        sent=len(first_accept),
        during_backlog=during,
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        max=max(latencies) if latencies else None,
    )


@dataclass(frozen=True, slots=True)
class IntakeShare:
    """Sending while the backlog was still being persisted, against sending after it.

    Sends accepted from 0 s to 20 s (the intake ending at 20 s, 40,000 sends) and from 20 s to
    40 s (100,000 sends): ``during_per_second`` 2,000, ``after_per_second`` 5,000, ``ratio``
    0.4. None where a side has fewer than two sends.
    """

    during_per_second: float | None
    after_per_second: float | None
    ratio: float | None


def sending_during_intake(sends: Sequence[Send], ingested_at: float | None) -> IntakeShare:
    """Accepted sends per second from the first send to ``ingested_at`` (unix seconds), and
    from then to the last send."""
    if ingested_at is None or not sends:
        return IntakeShare(None, None, None)
    during = [s.accepted_at for s in sends if s.accepted_at <= ingested_at]
    after = [s.accepted_at for s in sends if s.accepted_at > ingested_at]

    def rate(times: list[float], start: float, end: float) -> float | None:
        return len(times) / (end - start) if len(times) >= 2 and end > start else None

    during_rate = rate(during, min(during), ingested_at) if during else None
    after_rate = rate(after, ingested_at, max(after)) if after else None
    ratio = during_rate / after_rate if during_rate is not None and after_rate else None
    return IntakeShare(during_rate, after_rate, ratio)


PENDING_STATES = frozenset({"queued", "sending", "held", "in_doubt"})


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What became of every message the benchmark requested, simulator and queue together.

    ``lost`` are messages the queue considers finished (or never held) that the simulator
    never accepted and that are not dead: they must be 0. ``unfinished`` are still waiting in
    the queue (a run that timed out). ``sent_twice`` counts messages the simulator accepted
    more than once.
    """

    requested: int
    accepted: int  # accepted at least once
    sent_twice: int
    extra_sends: int  # accepted sends beyond the first, summed over messages
    dead: int
    dead_by_reason: dict[str, int]
    dead_but_accepted: int  # dead in the queue although the simulator accepted it
    lost: int
    unfinished: int
    lost_states: dict[str, int]  # queue state of the lost ones ("missing" when no row)
    unknown_sends: int  # accepted sends whose id the benchmark never requested


def outcomes(
    requested_ids: Iterable[str],
    sends: Iterable[Send],
    queue_states: Mapping[str, str],
    dead_reasons: Mapping[str, str],
) -> Outcomes:
    """Classify every requested message by its simulator sends and its queue row.

    ``queue_states`` maps message id → state of its row; ``dead_reasons`` maps each dead
    message id → its last error code.
    """
    requested = set(requested_ids)
    accept_counts = Counter(send.message_id for send in sends)
    unknown = sum(
        count for message_id, count in accept_counts.items() if message_id not in requested
    )
    once = twice = extra = dead = dead_accepted = lost = unfinished = 0
    reasons: Counter[str] = Counter()
    lost_states: Counter[str] = Counter()
    for message_id in requested:
        count = accept_counts.get(message_id, 0)
        state = queue_states.get(message_id, "missing")
        if count:
            once += 1
            if count > 1:
                twice += 1
                extra += count - 1
            if state == "dead":
                dead_accepted += 1
        elif state == "dead":
            dead += 1
            reasons[dead_reasons.get(message_id) or "unknown"] += 1
        elif state in PENDING_STATES:
            unfinished += 1
        else:
            lost += 1
            lost_states[state] += 1
    return Outcomes(
        requested=len(requested),
        accepted=once,
        sent_twice=twice,
        extra_sends=extra,
        dead=dead,
        dead_by_reason=dict(reasons.most_common()),
        dead_but_accepted=dead_accepted,
        lost=lost,
        unfinished=unfinished,
        lost_states=dict(lost_states),
        unknown_sends=unknown,
    )


# -- the queue over time: what the watcher sampled every poll ------------------------------------


@dataclass(frozen=True, slots=True)
class QueueSample:
    """One poll: the queue's size and the dispatchers' cumulative claim counters (summed over
    replicas, restarts folded in), at ``at`` seconds since the first publish."""

    at: float
    queued: int  # messages in the dispatcher's queue table (intake progress)
    pending: int  # of which not finished: the backlog
    accepted: int  # sends the simulator accepted so far
    claims: int  # claim statements run so far
    claim_seconds: float  # their total duration
    claimed: int  # messages they claimed
    lag_samples: int = 0  # event loop lag samples taken so far (one every 0.1 s a replica)
    lag_seconds: float = 0.0  # their total lag
    lag_on_time: int = 0  # of which woke within 0.1 s of asked


@dataclass(frozen=True, slots=True)
class LoopLag:
    """The dispatchers' event loop lag over a stretch of the run."""

    mean_ms: float
    late_share: float  # samples that woke more than 0.1 s late


def loop_lag(first: QueueSample, last: QueueSample) -> LoopLag | None:
    taken = last.lag_samples - first.lag_samples
    if taken <= 0:
        return None
    return LoopLag(
        mean_ms=(last.lag_seconds - first.lag_seconds) / taken * 1000,
        late_share=1 - (last.lag_on_time - first.lag_on_time) / taken,
    )


def loop_lag_around(
    samples: Sequence[QueueSample], split_at: float | None
) -> tuple[LoopLag | None, LoopLag | None]:
    """The loop lag before ``split_at`` seconds (the intake's end) and after it."""
    if split_at is None or len(samples) < 2:
        return None, None
    before = [s for s in samples if s.at <= split_at]
    after = [s for s in samples if s.at >= split_at]
    return (
        loop_lag(before[0], before[-1]) if len(before) > 1 else None,
        loop_lag(after[0], after[-1]) if len(after) > 1 else None,
    )


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """The interval ending at ``at``: sends per second and what a claim cost in it."""

    at: float
    queued: int
    pending: int
    sent_per_second: float
    claims: int
    claim_ms: float | None  # mean duration of one claim statement
    claim_us_per_message: float | None  # claim time over the messages it claimed
    lag: LoopLag | None = None  # the dispatchers' event loop lag


def _interval(first: QueueSample, last: QueueSample) -> TimelineRow:
    seconds = max(last.at - first.at, 1e-9)
    claims = last.claims - first.claims
    spent = last.claim_seconds - first.claim_seconds
    claimed = last.claimed - first.claimed
    return TimelineRow(
        at=last.at,
        queued=last.queued,
        pending=last.pending,
        sent_per_second=(last.accepted - first.accepted) / seconds,
        claims=claims,
        claim_ms=spent / claims * 1000 if claims else None,
        claim_us_per_message=spent / claimed * 1e6 if claimed else None,
        lag=loop_lag(first, last),
    )


def timeline(samples: Sequence[QueueSample], every: float = 10.0) -> list[TimelineRow]:
    """One row per ``every`` seconds of the run (the last one may be shorter).

    Samples at 0, 5, 10, 15 and 20 s with ``every=10`` give the intervals 0→10 and 10→20.
    """
    rows: list[TimelineRow] = []
    if len(samples) < 2:
        return rows
    start = samples[0]
    for sample in samples[1:]:
        if sample.at - start.at >= every - 1e-9:
            rows.append(_interval(start, sample))
            start = sample
    if start is not samples[-1]:
        rows.append(_interval(start, samples[-1]))
    return rows


BACKLOG_EDGES = (10_000, 100_000, 500_000, 1_000_000, 5_000_000)


@dataclass(frozen=True, slots=True)
class ClaimCost:
    """Claim time per claimed message while the backlog was within ``[low, high)``."""

    low: int
    high: int | None
    intervals: int
    claimed: int
    us_per_message: float
    p50_us: float | None  # over the intervals' own figures
    p95_us: float | None


def claim_cost_by_backlog(
    samples: Sequence[QueueSample], edges: Sequence[int] = BACKLOG_EDGES, min_claimed: int = 1000
) -> list[ClaimCost]:
    """Each poll interval counts toward the backlog band it started in; a band needs
    ``min_claimed`` messages claimed in it to be reported (fewer say nothing about cost)."""
    bounds = [0, *edges]
    spent: dict[int, float] = defaultdict(float)
    claimed: dict[int, int] = defaultdict(int)
    per_interval: dict[int, list[float]] = defaultdict(list)
    for first, last in zip(samples, samples[1:], strict=False):
        n = last.claimed - first.claimed
        if n <= 0:
            continue
        band = max(i for i, low in enumerate(bounds) if first.pending >= low)
        seconds = last.claim_seconds - first.claim_seconds
        spent[band] += seconds
        claimed[band] += n
        per_interval[band].append(seconds / n * 1e6)
    costs = []
    for band in sorted(claimed):
        if claimed[band] < min_claimed:
            continue
        values = per_interval[band]
        costs.append(
            ClaimCost(
                low=bounds[band],
                high=bounds[band + 1] if band + 1 < len(bounds) else None,
                intervals=len(values),
                claimed=claimed[band],
                us_per_message=spent[band] / claimed[band] * 1e6,
                p50_us=percentile(values, 0.50),
                p95_us=percentile(values, 0.95),
            )
        )
    return costs


def claim_cost_spread(costs: Sequence[ClaimCost], from_backlog: int = 0) -> float | None:
    """The dearest band's cost per message over the cheapest's (the goal: at most 1.5), among
    the bands from ``from_backlog`` up."""
    values = [c.us_per_message for c in costs if c.us_per_message > 0 and c.low >= from_backlog]
    return max(values) / min(values) if len(values) >= 2 else None
