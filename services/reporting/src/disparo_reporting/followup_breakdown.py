"""The seam for a campaign's follow-up breakdown (replies after each follow-up attempt).

Conversations and their follow-up attempts belong to the followup service. Until its events
say which attempt a follow-up message was, a report carries ``followup: null``; the service
passes a ``FollowupSource`` to ``campaign_report`` once that data exists, and nothing else in
the report changes.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class FollowupAttempt:
    attempt: int
    sent: int
    replied: int


@dataclass(frozen=True)
class FollowupBreakdown:
    attempts: list[FollowupAttempt]


FollowupSource = Callable[[UUID], Awaitable[FollowupBreakdown | None]]
