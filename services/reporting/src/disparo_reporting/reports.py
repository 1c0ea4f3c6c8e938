"""What the projections say: a message's history, global stats and a campaign's report.

Rates are fractions in [0, 1] over messages sent (``None`` while nothing was sent):
delivered 80 of 100 sent is a delivery rate of 0.8; 12 replies to those 100 a response rate
of 0.12. A reply is attributed to the latest message sent to that phone within the reply
window (7 days by default), so an unrelated message months later is not a response.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "reports.sql")


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class MessageStatus:
    message_id: UUID
    state: str
    campaign_id: UUID | None
    kind: str | None
    sender: str | None
    attempts: int
    dead: bool
    last_error_code: str | None
    history: list[HistoryEntry]


@dataclass(frozen=True)
class Stats:
    totals_by_state: dict[str, int]
    sent_last_minute: int
    sent_last_hour: int
    delivery_rate: float | None
    response_rate: float | None


@dataclass(frozen=True)
class Funnel:
    targeted: int | None
    requested: int
    enqueued: int
    sent: int
    delivered: int
    read: int
    replied: int
    failed: int
    dead: int
    opted_out: int
    pending: int


@dataclass(frozen=True)
class ErrorCount:
    code: str
    count: int


@dataclass(frozen=True)
class HourlySends:
    hour: datetime
    sent: int


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: UUID
    name: str | None
    status: str | None
    started_at: datetime | None
    finished_at: datetime | None
    funnel: Funnel
    delivery_rate: float | None
    response_rate: float | None
    median_seconds_to_first_reply: float | None
    top_errors: list[ErrorCount]
    sends_per_hour: list[HourlySends]


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places, or None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


async def message_status(pool: asyncpg.Pool, message_id: UUID) -> MessageStatus | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(SQL.get_message, message_id)
        if row is None:
            return None
        history = await conn.fetch(SQL.get_history, message_id)
    return MessageStatus(
        **dict(row), history=[HistoryEntry(h["status"], h["at"], h["detail"]) for h in history]
    )


async def global_stats(pool: asyncpg.Pool, now: datetime) -> Stats:
    async with pool.acquire() as conn:
        totals = await conn.fetch(SQL.totals_by_state)
        activity = await conn.fetchrow(SQL.overall_activity, now)
    return Stats(
        totals_by_state={r["state"]: r["count"] for r in totals},
        sent_last_minute=activity["sent_last_minute"],
        sent_last_hour=activity["sent_last_hour"],
        delivery_rate=rate(activity["delivered"], activity["sent"]),
        response_rate=rate(activity["replied"], activity["sent"]),
    )


async def campaign_known(pool: asyncpg.Pool, campaign_id: UUID) -> bool:
    return bool(await pool.fetchval(SQL.campaign_known, campaign_id))


async def campaign_report(
    pool: asyncpg.Pool, campaign_id: UUID, top_errors: int
) -> CampaignReport | None:
    """The campaign's funnel and timings, computed over its messages in a few set-based reads."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        campaign = await conn.fetchrow(SQL.get_campaign, campaign_id)
        funnel = await conn.fetchrow(SQL.campaign_funnel, campaign_id)
        if campaign is None and funnel["messages"] == 0:
            return None
        errors = await conn.fetch(SQL.campaign_top_errors, campaign_id, top_errors)
        hours = await conn.fetch(SQL.campaign_sends_per_hour, campaign_id)
    median = funnel["median_seconds_to_first_reply"]
    return CampaignReport(
        campaign_id=campaign_id,
        name=campaign["name"] if campaign else None,
        status=campaign["status"] if campaign else None,
        started_at=campaign["started_at"] if campaign else None,
        finished_at=campaign["finished_at"] if campaign else None,
        funnel=Funnel(
            targeted=campaign["audience_size"] if campaign else None,
            requested=funnel["requested"],
            enqueued=funnel["enqueued"],
            sent=funnel["sent"],
            delivered=funnel["delivered"],
            read=funnel["read"],
            replied=funnel["replied"],
            failed=funnel["failed"],
            dead=funnel["dead"],
            opted_out=funnel["opted_out"],
            pending=funnel["pending"],
        ),
        delivery_rate=rate(funnel["delivered"], funnel["sent"]),
        response_rate=rate(funnel["replied"], funnel["sent"]),
        median_seconds_to_first_reply=round(median, 1) if median is not None else None,
        top_errors=[ErrorCount(e["code"], e["count"]) for e in errors],
        sends_per_hour=[HourlySends(h["hour"], h["sent"]) for h in hours],
    )
