"""The senders this replica holds: per sender, its provider, limiter, daily count and buffer.

A slot is ``ACTIVE`` while its lease holds; ``DRAINING`` once given back to the pool (no new
sends, released once in-flight ends); ``STOPPED`` when its lease was lost or the sender paused
(no new sends, forgotten once in-flight ends). Claimed messages wait in the slot's buffer, most
urgent first, until its send loop (``sending``) takes them; a slot that stops hands its buffer
back to the queue.
"""

import asyncio
import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from disparo_dispatcher import metrics
from disparo_dispatcher.admission import wait_until
from disparo_dispatcher.providers.base import Provider
from disparo_dispatcher.providers.connections import ConnectionPool
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.rate_limits import SendRateLimiter, daily_cap
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.results import PendingSettlement, Results, holds_campaign_quota
from disparo_dispatcher.senders import Sender

ACTIVE = "active"
DRAINING = "draining"  # given back to the pool: no new sends, released once in-flight ends
STOPPED = "stopped"  # lease lost or sender paused: no new sends, forgotten once in-flight ends


def cap_for(sender: Sender, today: date, warmup_daily_caps: list[int]) -> int | None:
    """Today's send cap of ``sender``: its daily limit or warm-up ramp (``daily_cap``)."""
    return daily_cap(sender.daily_limit, sender.warmup_started_on, today, warmup_daily_caps)


@dataclass
class SenderSlot:
    """A sender this replica holds: its account, limiter, daily count and claimed messages."""

    sender: Sender
    provider: Provider
    account: object
    limiter: SendRateLimiter
    day: date
    sent_today: int
    cap_today: int | None
    lease_deadline: float  # monotonic: stop sending past this unless renewed
    state: str = ACTIVE
    in_flight: int = 0
    buffer: list = field(
        default_factory=list
    )  # heap of (-priority, rank_at, seq, message, lease_ends)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    http: ConnectionPool | None = None

    @property
    def sender_id(self) -> str:
        return self.sender.sender_id

    def room(self, lookahead_seconds: float) -> int:
        """How many more messages to claim for this sender now."""
        target = max(1, math.ceil(self.limiter.rate * lookahead_seconds))
        room = target - len(self.buffer)
        if self.cap_today is not None:
            room = min(room, self.cap_today - self.sent_today - len(self.buffer))
        return max(0, room)

    def push(self, message: ClaimedMessage, lease_ends: float, seq: int) -> None:
        """Buffer a claimed message; ``seq`` keeps claim order among equally urgent ones."""
        heapq.heappush(self.buffer, (-message.priority, message.rank_at, seq, message, lease_ends))

    def pop(self) -> tuple[ClaimedMessage, float]:
        """The most urgent buffered message and the monotonic end of its lease."""
        *_, message, lease_ends = heapq.heappop(self.buffer)
        return message, lease_ends

    def head_priority(self) -> int:
        """Priority of the message ``pop`` would give (0 when the buffer is empty)."""
        return -self.buffer[0][0] if self.buffer else 0

    def buffered(self) -> Iterator[ClaimedMessage]:
        return (entry[3] for entry in self.buffer)

    def refresh(self, sender: Sender, today: date, warmup_daily_caps: list[int]) -> None:
        """Pick up configuration changes and roll the day over."""
        self.sender = sender
        if self.limiter.rate != sender.rate_per_second:
            self.limiter.set_rate(sender.rate_per_second)
        if self.day != today:
            self.day = today
            self.sent_today = 0
        self.cap_today = cap_for(sender, today, warmup_daily_caps)


def release_buffer(
    slot: SenderSlot,
    now: datetime,
    recipients: Recipients,
    results: Results,
    due_at: datetime | None = None,
    limit: str | None = None,
) -> None:
    """Hand claimed-but-unsent messages back to the queue (the attempt is returned).

    They are due again at ``due_at`` (moved back in line by as much), or at once; ``limit``
    labels the limiter wait they count as.
    """
    while slot.buffer:
        message, _ = slot.pop()
        recipients.released(message.phone)
        results.put_back(
            PendingSettlement(
                wait_until(message, due_at or now, now, shift=due_at is not None),
                message,
                returns_quota=holds_campaign_quota(message),
            )
        )
        if limit:
            metrics.LIMIT_WAITS.labels(limit).inc()
    results.wake.set()


def stop_slot(slot: SenderSlot, now: datetime, recipients: Recipients, results: Results) -> None:
    """No more sends for this sender: its buffer goes back, its send loop goes idle."""
    slot.state = STOPPED
    release_buffer(slot, now, recipients, results)
    slot.wake.set()
