"""Send-time checks on a claimed message: may it go now, or must it wait, be held or be dropped?

Checked in order, each a rule from ``rate_limits`` / ``quiet_hours``:

1. the recipient opted out (since it was queued) → cancelled;
2. its campaign was cancelled → cancelled; paused → held;
3. quiet hours in the recipient's zone (replies exempt by default) → wait for the window;
   then the campaign's own send window, in the campaign's zone, likewise;
4. pair spacing: the last message to this phone, as stored or as sent by this replica moments
   ago, was less than ``pair_spacing`` ago → wait for the pair;
5. the recipient already got its campaign messages for today → wait for tomorrow.

A wait hands the attempt back (``attempt_change=-1``): it is not a failure. Long waits (quiet
hours, tomorrow) also move the message back in line by the same amount, so claims do not walk
over a night's worth of waiting rows. The per-campaign daily cap needs a shared counter and is
applied after these rules by the worker, for the batch at once.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from disparo_dispatcher.queue import CANCELLED, HELD, QUEUED, ClaimedMessage, Settlement
from disparo_dispatcher.quiet_hours import SendWindow, next_day_start, next_send_time
from disparo_dispatcher.rate_limits import pair_ready_at, recipient_campaign_room

CAMPAIGN_KIND = "campaign"


@dataclass(frozen=True)
class AdmissionRules:
    pair_spacing_seconds: float
    recipient_campaign_max_per_day: int
    window: SendWindow
    quiet_hours_exempt_kinds: frozenset[str]
    day_zone: str  # zone whose midnight resets daily counts


@dataclass(frozen=True, slots=True)
class Wait:
    """Why a message waits; ``limit`` labels the metric of limiter waits."""

    settlement: Settlement
    limit: str
    publish_failure: bool = False  # a cancellation is published as a final message.failed


def admit(
    message: ClaimedMessage,
    now: datetime,
    today: date,
    rules: AdmissionRules,
    last_sent_here: datetime | None,
) -> Wait | None:
    """``None`` when ``message`` may be sent now, else how it waits or ends.

    ``last_sent_here`` is this replica's own memory of the last send to the phone (including one
    admitted a moment ago and not yet recorded), which the database may not show yet.
    """
    m = message
    if m.opted_out:
        return Wait(_end(m, CANCELLED, "opted_out", "the contact opted out"), "opted_out", True)
    if m.campaign_status == "cancelled":
        return Wait(
            _end(m, CANCELLED, "campaign_cancelled", "the campaign was cancelled"),
            "campaign_cancelled",
            True,
        )
    if m.campaign_status == "paused":
        return Wait(Settlement(m.message_id, m.attempt, HELD, attempt_change=-1), "campaign_paused")
    if m.kind not in rules.quiet_hours_exempt_kinds:
        opens = next_send_time(now, m.time_zone, rules.window)
        if opens > now:
            return Wait(_wait(m, opens, now, shift=True), "quiet_hours")
    if m.campaign_window is not None:
        opens = next_send_time(now, m.campaign_window.time_zone, m.campaign_window.window)
        if opens > now:
            return Wait(_wait(m, opens, now, shift=True), "campaign_window")
    last = max((t for t in (m.last_sent_at, last_sent_here) if t is not None), default=None)
    ready = pair_ready_at(last, rules.pair_spacing_seconds)
    if ready is not None and ready > now:
        return Wait(_wait(m, ready, now, shift=False), "pair_spacing")
    if m.kind == CAMPAIGN_KIND:
        room = recipient_campaign_room(
            m.campaign_day, m.campaign_sent_on_day, today, rules.recipient_campaign_max_per_day
        )
        if room <= 0:
            return Wait(
                _wait(m, next_day_start(now, rules.day_zone), now, shift=True), "recipient_daily"
            )
    return None


def wait_until(message: ClaimedMessage, due_at: datetime, now: datetime, shift: bool) -> Settlement:
    """Back in line at ``due_at`` without spending the attempt."""
    return _wait(message, due_at, now, shift)


def _wait(m: ClaimedMessage, due_at: datetime, now: datetime, shift: bool) -> Settlement:
    # Back in line at once (its number stopped, its lease ran short): it keeps the time it fell
    # due, so the Painel's oldest waiting age goes on counting instead of starting again.
    at_once = not shift and due_at <= now
    return Settlement(
        m.message_id,
        m.attempt,
        QUEUED,
        due_at=None if at_once else due_at,
        attempt_change=-1,
        rank_shift=(due_at - now) if shift else timedelta(0),
    )


def _end(m: ClaimedMessage, state: str, code: str, reason: str) -> Settlement:
    return Settlement(
        m.message_id, m.attempt, state, attempt_change=-1, error_code=code, error=reason
    )
