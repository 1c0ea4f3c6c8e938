"""The campaign lifecycle as a table of allowed moves, and the rules of a campaign's settings.

::

    draft ──schedule──► scheduled ──start (scheduler)──► running ⇄ paused
      │  ◄─(reschedule)─┘  │                              │         │
      └──────start─────────┼──────────────────────────────┘         │
                           │            running ──complete──► completed
    draft | scheduled | running | paused ──cancel──► cancelled

Every command is idempotent where repeating it is harmless: starting a running campaign, pausing
a paused one or cancelling a cancelled one is a no-op (``Outcome.UNCHANGED``), so a retried
request or the scheduler racing a person cannot start anything twice. Moves the table does not
hold (pausing a draft, starting a cancelled campaign, editing a scheduled one) are illegal and
the API answers 409.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from disparo_shared.events import MessageKind

# The spec's campaign defaults: max_por_dia = 50 and prioridade = 3 (campaigns wait behind
# follow-ups, 4, and replies, 8+). A request may say otherwise; max_per_day null means no cap.
DEFAULT_MAX_PER_DAY = 50
DEFAULT_PRIORITY = 3


class Kind(StrEnum):
    """What a campaign is for (the spec's tipo), and so how its messages travel.

    ``campaign`` is the generic kind; ``promotional`` (promocional: an offer of shifts) is sent
    exactly like it and is kept as a label for reports and for the Cloud API's marketing
    templates; ``first_contact`` (primeiro_contato) opens a conversation with a doctor never
    written to, and the follow-up rules pick it up; ``followup`` is a campaign of reminders: its
    messages are follow-ups, which a reply or an opt-out cancels while they still wait in line.
    """

    CAMPAIGN = "campaign"
    PROMOTIONAL = "promotional"
    FIRST_CONTACT = "first_contact"
    FOLLOWUP = "followup"


MESSAGE_KIND: dict[Kind, MessageKind] = {
    Kind.CAMPAIGN: MessageKind.CAMPAIGN,
    Kind.PROMOTIONAL: MessageKind.CAMPAIGN,
    Kind.FIRST_CONTACT: MessageKind.FIRST_CONTACT,
    Kind.FOLLOWUP: MessageKind.FOLLOWUP,
}


class State(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Command(StrEnum):
    EDIT = "edit"
    SCHEDULE = "schedule"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    COMPLETE = "complete"


# command → {from state: to state}
MOVES: dict[Command, dict[State, State]] = {
    Command.EDIT: {State.DRAFT: State.DRAFT},
    Command.SCHEDULE: {State.DRAFT: State.SCHEDULED, State.SCHEDULED: State.SCHEDULED},
    Command.START: {State.DRAFT: State.RUNNING, State.SCHEDULED: State.RUNNING},
    Command.PAUSE: {State.RUNNING: State.PAUSED},
    Command.RESUME: {State.PAUSED: State.RUNNING},
    Command.CANCEL: {
        State.DRAFT: State.CANCELLED,
        State.SCHEDULED: State.CANCELLED,
        State.RUNNING: State.CANCELLED,
        State.PAUSED: State.CANCELLED,
    },
    Command.COMPLETE: {State.RUNNING: State.COMPLETED},
}

# command → states in which repeating it changes nothing (answered 200, no event).
ALREADY_DONE: dict[Command, frozenset[State]] = {
    Command.START: frozenset({State.RUNNING, State.PAUSED, State.COMPLETED}),
    Command.PAUSE: frozenset({State.PAUSED}),
    Command.RESUME: frozenset({State.RUNNING}),
    Command.CANCEL: frozenset({State.CANCELLED}),
    Command.COMPLETE: frozenset({State.COMPLETED}),
}


class IllegalTransition(Exception):
    """``command`` is not allowed in ``state``; the API answers 409 with this text."""

    def __init__(self, command: Command, state: State) -> None:
        allowed = sorted(s.value for s in MOVES[command])
        super().__init__(
            f"cannot {command.value} a campaign that is {state.value}"
            f" (allowed from: {', '.join(allowed)})"
        )
        self.command = command
        self.state = state


@dataclass(frozen=True)
class Move:
    """The decided effect of a command: the next state, or ``changed=False`` for a no-op."""

    to: State
    changed: bool


def decide(command: Command, state: State) -> Move:
    """Next state for ``command`` in ``state``; raise ``IllegalTransition`` when not allowed."""
    if state in ALREADY_DONE.get(command, frozenset()):
        return Move(state, changed=False)
    target = MOVES[command].get(state)
    if target is None:
        raise IllegalTransition(command, state)
    return Move(target, changed=True)


# ---------------------------------------------------------------------------------------------
# Send window and the per-day spread of a campaign's messages


@dataclass(frozen=True)
class SendWindow:
    """Hours of the day (``start_hour`` ≤ h < ``end_hour``) and ISO weekdays (1 = Monday) a
    campaign may send, in ``zone``."""

    start_hour: int = 0
    end_hour: int = 24
    days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Sao_Paulo"))

    def next_opening(self, at: datetime) -> datetime:
        """``at`` itself when inside the window, else the next moment the window opens."""
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            day = day.replace(tzinfo=self.zone)
            if day.isoweekday() not in self.days:
                continue
            opens = day.replace(hour=self.start_hour)
            closes = (
                day + timedelta(hours=self.end_hour)
                if self.end_hour == 24
                else day.replace(hour=self.end_hour)
            )
            if offset == 0 and local >= closes:
                continue
            return max(local, opens) if offset == 0 else opens
        raise ValueError("a send window needs at least one day")  # unreachable once validated

    def nth_day_after(self, first: datetime, n: int) -> datetime:
        """Opening of the ``n``-th window day (1-based) after ``first``'s local date.

        Any 7 consecutive days hold each window weekday once, so whole weeks are skipped in one
        step and at most 7 days are walked: constant time for day 3,000 as for day 1.
        """
        local = first.astimezone(self.zone)
        weeks, rest = divmod(n - 1, len(self.days))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(weeks=weeks)
        found = -1
        while found < rest:
            day += timedelta(days=1)
            if day.isoweekday() in self.days:
                found += 1
        return day.replace(hour=self.start_hour)


class DailySpread:
    """``not_before`` of the n-th recipient so that at most ``max_per_day`` fall due per day.

    Day 0 starts at ``first_due`` (the start, moved into the window); recipient ``seq`` (1-based)
    falls on window day ``(seq - 1) // max_per_day`` and is due at that day's opening (day 0: at
    ``first_due``). Example: max_per_day = 300, window 09–18 Mon–Fri, started Friday 10:00 —
    recipients 1–300 due Friday 10:00, 301–600 Monday 09:00, 601–900 Tuesday 09:00.
    Without ``max_per_day`` everyone is due at ``first_due``. The dispatcher sends each message
    at or after its ``not_before``, within its own rate limits and quiet hours.
    """

    def __init__(self, first_due: datetime, window: SendWindow, max_per_day: int | None) -> None:
        self._first_due = first_due
        self._window = window
        self._max_per_day = max_per_day
        self._days: dict[int, datetime] = {0: first_due}

    def not_before(self, seq: int) -> datetime:
        if not self._max_per_day:
            return self._first_due
        day_index = (seq - 1) // self._max_per_day
        if day_index not in self._days:
            self._days[day_index] = self._window.nth_day_after(self._first_due, day_index)
        return self._days[day_index]
