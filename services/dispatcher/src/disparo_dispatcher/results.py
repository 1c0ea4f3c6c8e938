"""What waits for the next flush: finished provider calls and messages handed back unsent.

Sends and claims only append here; ``recording`` writes a batch at a time. Until then each
message stays 'sending' in Postgres under this replica's lease, which ``leasing`` keeps renewed.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from disparo_dispatcher.providers.base import SendResult
from disparo_dispatcher.queue import ClaimedMessage, Settlement


@dataclass(slots=True)
class Outcome:
    """A finished provider call, waiting for the flush."""

    sender_id: str
    message: ClaimedMessage
    result: SendResult
    finished_at: datetime


@dataclass(slots=True)
class PendingSettlement:
    """A claimed message put back or ended without a provider call, waiting for the flush."""

    settlement: Settlement
    message: ClaimedMessage
    publish_failure: bool = False
    # Handed back after taking its campaign's daily quota: the quota goes back with it.
    returns_quota: bool = False


def holds_campaign_quota(message: ClaimedMessage) -> bool:
    """Whether a buffered message took a share of its campaign's daily cap when admitted."""
    return message.campaign_id is not None and message.campaign_max_per_day is not None


class Results:
    """The unflushed outcomes and settlements of one replica, and the leases they hold."""

    def __init__(self, flush_batch_max: int) -> None:
        self.outcomes: list[Outcome] = []
        self.pending: list[PendingSettlement] = []
        # Messages in flight or answered but not yet flushed → monotonic end of their lease:
        # renewed while they last, and never reclaimed by this replica (see ``leasing``).
        self.held: dict[UUID, float] = {}
        self.wake = asyncio.Event()  # set to flush now rather than at the next interval
        self._flush_batch_max = flush_batch_max

    def waiting(self) -> bool:
        """Whether anything waits for the flush."""
        return bool(self.outcomes or self.pending)

    def add_outcome(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if len(self.outcomes) >= self._flush_batch_max:
            self.wake.set()

    def put_back(self, pending: PendingSettlement) -> None:
        self.pending.append(pending)

    def message_ids(self) -> Iterator[UUID]:
        """Every message held here, from the start of its send to the flush of its result."""
        yield from self.held
        yield from (p.message.message_id for p in self.pending)
        yield from (o.message.message_id for o in self.outcomes)
