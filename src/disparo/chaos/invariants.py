"""What must hold after every fault, judged from the simulator's log and the databases: pure.

The simulator's send log is the ground truth of what reached a doctor's phone; the dispatcher's
queue says what was asked of it and what it believes; reporting's funnels say what the company
reads. ``check`` compares them and returns one verdict per invariant:

- **sent once**: no message id accepted twice by the simulator, but for a reply the
  at-least-once policy sent again after a doubt nothing could settle (counted apart);
- **one per doctor**: no doctor got two messages of one campaign (a replayed fan-out would make
  a second message id for the same recipient), nor more follow-ups than the rule allows;
- **nothing lost**: every message the dispatcher holds is sent, dead with a reason, or held
  in doubt for a person (counted, never silently dropped), every message it calls sent reached
  the simulator, every campaign's audience is in the queue, and every send the simulator took
  was asked for;
- **limits held**: no number above its rate in any 1-s window and no pair closer than its
  spacing, in the log, and no request the simulator refused for a limit;
- **reports converged**: each campaign's reported sent/dead/held in doubt/replied equals the
  truth (a held send the provider did take counts as held: nobody can know it was sent);
- **nothing stuck**: no event left in an outbox or a consumer, no message left queued.

A worked example: two accepted sends of message ``m1`` make ``sent once`` fail with
``1 message sent twice (1 extra send)``.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LIMIT_SLACK_SECONDS = 0.05  # the log's clock is wall time, the simulator's limiter monotonic


@dataclass(frozen=True, slots=True)
class SimSend:
    """One send the simulator accepted (``accepted_at`` in unix seconds)."""

    message_id: str | None
    sender: str
    recipient: str
    accepted_at: float


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message as the dispatcher's queue holds it."""

    kind: str
    campaign_id: str | None
    phone: str
    state: str
    held_in_doubt: bool  # 'in_doubt' and handed to a person (at-most-once policy)


@dataclass(frozen=True, slots=True)
class CampaignTruth:
    """A campaign as campaign-api fanned it out and as reporting reports it."""

    campaign_id: str
    audience: int  # recipients campaign-api snapshotted at start
    replied: int  # doctors who wrote back after its message (the run made them write)
    reported: Mapping[str, int]  # reporting's funnel: sent, dead, replied, …


@dataclass(frozen=True)
class Evidence:
    """Everything the checks read; ``stuck`` maps what must be empty to how much is left."""

    sends: list[SimSend]
    queue: Mapping[str, QueuedMessage]  # by message id
    campaigns: list[CampaignTruth]
    rate_per_second: int
    pair_spacing_seconds: float
    refused_for_limits: int  # the simulator's throttled + pair_limited
    max_followups_per_doctor: int
    stuck: Mapping[str, int] = field(default_factory=dict)
    # ids the at-least-once policy sent again after a doubt nothing could settle (replies on a
    # number that cannot be asked): a second copy of these is the policy's accepted cost
    resent_by_policy: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    ok: bool
    figure: str


@dataclass(frozen=True)
class Tally:
    """Counts over the whole run so far, for the table's figures."""

    requested: int
    sent: int
    sent_twice: int  # not counting what the at-least-once policy resent
    twice_by_policy: int  # resent by the at-least-once policy, and the provider had taken it
    dead: int
    held_in_doubt: int
    lost: int
    peak_per_second: int


def tally(evidence: Evidence) -> Tally:
    accepted = Counter(send.message_id for send in evidence.sends if send.message_id)
    states = Counter(m.state for m in evidence.queue.values())
    held = sum(1 for m in evidence.queue.values() if m.held_in_doubt)
    twice = {m for m, count in accepted.items() if count > 1}
    return Tally(
        requested=len(evidence.queue),
        sent=sum(1 for message_id in evidence.queue if accepted.get(message_id)),
        sent_twice=len(twice - evidence.resent_by_policy),
        twice_by_policy=len(twice & evidence.resent_by_policy),
        dead=states.get("dead", 0),
        held_in_doubt=held,
        lost=len(_lost(evidence, accepted)),
        peak_per_second=max(_peaks(evidence.sends).values(), default=0),
    )


def check(evidence: Evidence) -> list[Verdict]:
    accepted = Counter(send.message_id for send in evidence.sends if send.message_id)
    return [
        _sent_once(accepted, evidence.resent_by_policy),
        _one_per_doctor(evidence),
        _nothing_lost(evidence, accepted),
        _limits_held(evidence),
        _reports_converged(evidence),
        _nothing_stuck(evidence),
    ]


def _sent_once(accepted: Counter, resent_by_policy: frozenset[str]) -> Verdict:
    doubled = {m: c for m, c in accepted.items() if c > 1}
    twice = {m: c for m, c in doubled.items() if m not in resent_by_policy}
    by_policy = len(doubled) - len(twice)
    extra = sum(c - 1 for c in twice.values())
    figure = f"{len(twice)} message(s) sent twice ({extra} extra send(s))" if twice else "0 twice"
    if by_policy:
        figure += f"; {by_policy} reply(s) twice by the at-least-once policy (its accepted cost)"
    return Verdict("sent once", not twice, figure)


def _one_per_doctor(evidence: Evidence) -> Verdict:
    per_campaign: Counter[tuple[str, str]] = Counter()
    followups: Counter[str] = Counter()
    for send in evidence.sends:
        message = evidence.queue.get(send.message_id or "")
        if message is None:
            continue
        if message.kind == "campaign" and message.campaign_id:
            per_campaign[(message.campaign_id, message.phone)] += 1
        elif message.kind == "followup":
            followups[message.phone] += 1
    doubled = sum(1 for count in per_campaign.values() if count > 1)
    over = sum(1 for count in followups.values() if count > evidence.max_followups_per_doctor)
    problems = []
    if doubled:
        problems.append(f"{doubled} doctor(s) got a campaign's message twice")
    if over:
        problems.append(
            f"{over} doctor(s) got more than {evidence.max_followups_per_doctor} follow-up(s)"
        )
    figure = "; ".join(problems) or (
        f"{len(per_campaign)} campaign message(s), {sum(followups.values())} follow-up(s)"
    )
    return Verdict("one per doctor", not problems, figure)


def _lost(evidence: Evidence, accepted: Counter) -> list[str]:
    """Ids the queue calls sent that never reached the phone, and ids still unfinished that
    are not held for a person. Dead and cancelled ones were refused, with a reason, not lost."""
    return [
        message_id
        for message_id, message in evidence.queue.items()
        if not accepted.get(message_id)
        and not message.held_in_doubt
        and message.state not in ("dead", "cancelled")
    ]


def _nothing_lost(evidence: Evidence, accepted: Counter) -> Verdict:
    lost = _lost(evidence, accepted)
    by_state = Counter(evidence.queue[m].state for m in lost)
    unknown = sum(c for m, c in accepted.items() if m not in evidence.queue)
    missing = {
        c.campaign_id: c.audience - n
        for c in evidence.campaigns
        if (n := _queued_of(evidence, c.campaign_id)) < c.audience
    }
    problems = []
    if lost:
        problems.append(
            f"{len(lost)} not sent (" + ", ".join(f"{s}: {n}" for s, n in by_state.items()) + ")"
        )
    if missing:
        problems.append(f"{sum(missing.values())} recipient(s) never reached the queue")
    if unknown:
        problems.append(f"{unknown} send(s) nobody asked for")
    figure = "; ".join(problems) or f"0 lost of {len(evidence.queue)}"
    return Verdict("nothing lost", not problems, figure)


def _queued_of(evidence: Evidence, campaign_id: str) -> int:
    return sum(1 for m in evidence.queue.values() if m.campaign_id == campaign_id)


def _peaks(sends: Iterable[SimSend]) -> dict[str, int]:
    by_sender: dict[str, list[float]] = defaultdict(list)
    for send in sends:
        by_sender[send.sender].append(send.accepted_at)
    peaks = {}
    for sender, times in by_sender.items():
        times.sort()
        start = peak = 0
        for end, at in enumerate(times):
            while times[start] <= at - (1.0 - LIMIT_SLACK_SECONDS):
                start += 1
            peak = max(peak, end - start + 1)
        peaks[sender] = peak
    return peaks


def _closest_pair_gap(sends: Iterable[SimSend]) -> float | None:
    last: dict[tuple[str, str], float] = {}
    closest: float | None = None
    for send in sorted(sends, key=lambda s: s.accepted_at):
        pair = (send.sender, send.recipient)
        if pair in last:
            gap = send.accepted_at - last[pair]
            closest = gap if closest is None else min(closest, gap)
        last[pair] = send.accepted_at
    return closest


def _limits_held(evidence: Evidence) -> Verdict:
    peaks = _peaks(evidence.sends)
    over = {s: p for s, p in peaks.items() if p > evidence.rate_per_second}
    gap = _closest_pair_gap(evidence.sends)
    too_close = gap is not None and gap < evidence.pair_spacing_seconds - LIMIT_SLACK_SECONDS
    problems = []
    if over:
        problems.append(f"{len(over)} number(s) above {evidence.rate_per_second}/s")
    if too_close:
        problems.append(f"a pair {gap:.2f}s apart (< {evidence.pair_spacing_seconds:g}s)")
    if evidence.refused_for_limits:
        problems.append(f"{evidence.refused_for_limits} request(s) refused for a limit")
    peak = max(peaks.values(), default=0)
    figure = "; ".join(problems) or (
        f"peak {peak}/s ≤ {evidence.rate_per_second}/s"
        + (f", closest pair {gap:.1f}s" if gap is not None else "")
    )
    return Verdict("limits held", not problems, figure)


def _reports_converged(evidence: Evidence) -> Verdict:
    accepted_ids = {send.message_id for send in evidence.sends}
    wrong = []
    for campaign in evidence.campaigns:
        ids = [m for m, q in evidence.queue.items() if q.campaign_id == campaign.campaign_id]
        held = {m for m in ids if evidence.queue[m].held_in_doubt}
        truth = {
            # a held send the provider took is not known to us: reported as held, not sent
            "sent": sum(1 for m in ids if m in accepted_ids and m not in held),
            "dead": sum(1 for m in ids if evidence.queue[m].state == "dead"),
            "in_doubt": len(held),
            "replied": campaign.replied,
        }
        for name, value in truth.items():
            reported = campaign.reported.get(name)
            if reported != value:
                wrong.append(f"{campaign.campaign_id[:8]} {name} {reported} ≠ {value}")
    figure = "; ".join(wrong[:3]) + (f" (+{len(wrong) - 3})" if len(wrong) > 3 else "")
    if not wrong:
        figure = f"{len(evidence.campaigns)} campaign report(s) = simulator"
    return Verdict("reports converged", not wrong, figure)


def _nothing_stuck(evidence: Evidence) -> Verdict:
    left = {name: count for name, count in evidence.stuck.items() if count}
    figure = ", ".join(f"{name}: {count}" for name, count in left.items()) or "0 left"
    return Verdict("nothing stuck", not left, figure)
