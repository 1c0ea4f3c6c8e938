"""A campaign's follow-up breakdown: what its follow-ups did and what stopped them.

Projected from the events that flow: ``messages.requested`` says which follow-up a message is
(``followup_attempt``), the message facts say what became of it, replies are attributed to the
latest message sent before them, ``contact.opted_out`` and the provider's 131050 say who opted
out, and ``conversation.control_changed`` who was taken over by a person or closed. E.g. a
campaign to 6 doctors with a plan of 2 follow-ups, where 2 answered the original, 1 said PARAR,
1 was taken over and 2 stayed silent::

    attempts:       [{attempt 1: requested 2, sent 2, …}, {attempt 2: requested 2, sent 2, …}]
    answered_after: [{attempt 0, message "original", doctors 3}]   # PARAR is a reply too
    opted_out_after: [{attempt 0, message "original", doctors 1}]
    stopped:        {replied: 2, opted_out: 1, taken_over: 1, closed: 0, not_stopped: 2}
"""

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "followup_breakdown.sql")
STOP_REASONS = ("replied", "opted_out", "taken_over", "closed", "not_stopped")
CANCEL_REASONS = ("replied", "opted_out", "taken_over", "closed")


@dataclass(frozen=True)
class FollowupAttempt:
    """Follow-up number ``attempt`` (1, 2…) of the campaign: how many were requested, went out,
    were dropped from the queue (the conversation moved on), failed for good, and how many
    doctors first answered after it."""

    attempt: int
    requested: int
    sent: int
    cancelled: int
    failed: int
    answered_after: int


@dataclass(frozen=True)
class AnsweredAfter:
    """Doctors whose first reply (or, in ``opted_out_after``, whose opt-out) came after
    ``message`` (``original`` or ``followup``, number ``attempt``; 0 is the original)."""

    attempt: int
    message: str
    doctors: int


@dataclass(frozen=True)
class FollowupBreakdown:
    """Per attempt; doctors by the message they answered after, and by the message they opted
    out after (the latest sent before the opt-out); doctors reached by what stopped their
    follow-ups (``STOP_REASONS``); follow-ups dropped from the queue by reason."""

    attempts: list[FollowupAttempt]
    answered_after: list[AnsweredAfter]
    stopped: dict[str, int]
    cancelled: dict[str, int]
    opted_out_after: list[AnsweredAfter]


async def followup_breakdown(conn: asyncpg.Connection, campaign_id: UUID) -> FollowupBreakdown:
    """The breakdown of one campaign, read on ``conn`` (the report's snapshot)."""
    attempts = await conn.fetch(SQL.followup_attempts, campaign_id)
    answered = await conn.fetch(SQL.answered_after, campaign_id)
    cancelled = await conn.fetch(SQL.followups_cancelled, campaign_id)
    opted_out = await conn.fetch(SQL.opted_out_after, campaign_id)
    stopped = {
        r["reason"]: r["doctors"] for r in await conn.fetch(SQL.followups_stopped, campaign_id)
    }
    by_reason = {r["reason"]: r["followups"] for r in cancelled}
    return FollowupBreakdown(
        attempts=[
            FollowupAttempt(
                attempt=r["attempt"],
                requested=r["requested"],
                sent=r["sent"],
                cancelled=r["cancelled"],
                failed=r["failed"],
                answered_after=r["answered_after"],
            )
            for r in attempts
        ],
        answered_after=[
            AnsweredAfter(r["attempt"], "followup" if r["attempt"] else "original", r["doctors"])
            for r in answered
        ],
        stopped={reason: stopped.get(reason, 0) for reason in STOP_REASONS},
        cancelled={
            **{reason: by_reason.get(reason, 0) for reason in CANCEL_REASONS},
            **{r: n for r, n in by_reason.items() if r not in CANCEL_REASONS},
        },
        opted_out_after=[
            AnsweredAfter(r["attempt"], "followup" if r["attempt"] else "original", r["doctors"])
            for r in opted_out
        ],
    )
