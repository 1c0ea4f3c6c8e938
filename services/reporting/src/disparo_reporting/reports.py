"""What the projections say: a message's history, global stats and a campaign's report.

A campaign report is what a recruiter acts on: the funnel, who answered (how fast, how often,
their first words), each error explained in pt-BR with what to do, grouped by sender, and the
hourly and daily series in America/Sao_Paulo.

Rates are fractions in [0, 1] over messages sent (``None`` while nothing was sent):
delivered 80 of 100 sent is a delivery rate of 0.8; 12 replies to those 100 a response rate
of 0.12. A reply is attributed to the latest message sent to that phone within the reply
window (7 days by default), so an unrelated message months later is not a response.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from disparo_reporting.error_catalog import explain
from disparo_reporting.followup_breakdown import FollowupBreakdown, followup_breakdown
from disparo_shared.privacy import mask_phone
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
class MessageTimes:
    message_id: UUID
    state: str
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None


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
    needs_template: int
    in_doubt: int  # held for a person: not known to be sent, never resent by itself
    pending: int


@dataclass(frozen=True)
class ExplainedError:
    """One error code of one sender: how many messages last failed with it, and what it means."""

    code: str
    error_class: str
    messages: int
    dead: int
    explanation: str
    action: str


@dataclass(frozen=True)
class SenderErrors:
    """The errors of one sender (None: failed before a sender was chosen)."""

    sender: str | None
    errors: list[ExplainedError]


@dataclass(frozen=True)
class Responder:
    """A doctor who answered: ``phone`` is masked unless the caller may see phones."""

    phone: str
    name: str | None
    specialty: str | None
    region: str | None
    replies: int
    first_reply_at: datetime
    seconds_to_first_reply: float
    first_words: str | None


@dataclass(frozen=True)
class SeriesPoint:
    """One step of a time series; ``start`` is local time in the report's zone (with offset)."""

    start: datetime
    sent: int
    delivered: int
    read: int
    replied: int
    failed: int


@dataclass(frozen=True)
class ReplyTimes:
    p50_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class Retention:
    """Whether a replay could rebuild this report: streams keep events ``stream_max_age_days``."""

    stream_max_age_days: float | None
    older_than_retention: bool
    note: str | None


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: UUID
    name: str | None
    status: str | None
    started_at: datetime | None
    finished_at: datetime | None
    funnel: Funnel
    delivery_rate: float | None
    read_rate: float | None
    response_rate: float | None
    reply_times: ReplyTimes
    top_responders: list[Responder]
    errors_by_sender: list[SenderErrors]
    time_zone: str
    hourly: list[SeriesPoint]
    daily: list[SeriesPoint]
    retention: Retention
    followup: FollowupBreakdown


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


async def message_times(pool: asyncpg.Pool, message_ids: list[UUID]) -> list[MessageTimes]:
    """Several messages' state and times at once: a timeline's page is one call, not one per
    message."""
    rows = await pool.fetch(SQL.message_times, message_ids)
    return [MessageTimes(**dict(r)) for r in rows]


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


@dataclass(frozen=True)
class ReportOptions:
    """How a report is shaped for its caller."""

    top_responders: int = 10
    reveal_phones: bool = False
    time_zone: str = "America/Sao_Paulo"
    stream_max_age: timedelta | None = None


def _seconds(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def retention_of(
    first_seen: datetime | None, max_age: timedelta | None, now: datetime
) -> Retention:
    """Whether the campaign's first event has left the streams, so a rebuild would lose it.

    With streams kept 30 days, a campaign first seen 40 days ago is reported from the
    projections as they stand; ``POST /v1/admin/rebuild`` would bring back only its last 30 days.
    """
    if max_age is None:
        return Retention(None, False, None)
    days = round(max_age.total_seconds() / 86400, 2)
    older = first_seen is not None and first_seen < now - max_age
    note = (
        f"This campaign began more than {days:g} days ago, before the oldest events the streams "
        "keep: these figures come from the projections as kept, and a rebuild would lose its "
        "earlier events."
        if older
        else None
    )
    return Retention(days, older, note)


_SPACED_NUMBER = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def mask_numbers(text: str) -> str:
    """A reply's text with every phone-like number masked, spaced or not, but its last two
    digits: ``"ligue 11 98765 0077"`` → ``"ligue ** ***** **77"``. Stricter than log masking,
    because a doctor writes numbers the way people do."""

    def mask(match: re.Match[str]) -> str:
        number = match.group()
        digits = sum(c.isdigit() for c in number)
        seen = 0
        out = []
        for c in number:
            if c.isdigit():
                seen += 1
                out.append(c if seen > digits - 2 else "*")
            else:
                out.append(c)
        return "".join(out)

    return _SPACED_NUMBER.sub(mask, text)


def _responder(row: asyncpg.Record, reveal_phones: bool) -> Responder:
    phone = row["phone"] or ""
    words = row["first_words"]
    return Responder(
        phone=phone if reveal_phones else mask_phone(phone),
        name=row["contact_name"],
        specialty=row["specialty"],
        region=row["region"],
        replies=row["replies"],
        first_reply_at=row["first_reply_at"],
        seconds_to_first_reply=round(row["seconds_to_first_reply"], 1),
        first_words=words if reveal_phones or words is None else mask_numbers(words),
    )


def _errors_by_sender(rows: list[asyncpg.Record]) -> list[SenderErrors]:
    by_sender: dict[str | None, list[ExplainedError]] = {}
    for row in rows:
        entry = explain(row["code"])
        by_sender.setdefault(row["sender"], []).append(
            ExplainedError(
                row["code"],
                entry.error_class,
                row["messages"],
                row["dead"],
                entry.explanation,
                entry.action,
            )
        )
    return [SenderErrors(sender, errors) for sender, errors in by_sender.items()]


def _series(rows: list[asyncpg.Record], zone: ZoneInfo) -> list[SeriesPoint]:
    return [
        SeriesPoint(
            start=r["local_start"].replace(tzinfo=zone),
            sent=r["sent"],
            delivered=r["delivered"],
            read=r["read"],
            replied=r["replied"],
            failed=r["failed"],
        )
        for r in rows
    ]


async def campaign_report(
    pool: asyncpg.Pool,
    campaign_id: UUID,
    options: ReportOptions,
    now: datetime,
) -> CampaignReport | None:
    """The campaign's funnel, responders, errors and series, read in one consistent snapshot."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        campaign = await conn.fetchrow(SQL.get_campaign, campaign_id)
        funnel = await conn.fetchrow(SQL.campaign_funnel, campaign_id)
        if campaign is None and funnel["messages"] == 0:
            return None
        errors = await conn.fetch(SQL.campaign_errors_by_sender, campaign_id)
        responders = await conn.fetch(
            SQL.campaign_top_responders, campaign_id, options.top_responders
        )
        hourly = await conn.fetch(SQL.campaign_series, campaign_id, "hour", options.time_zone)
        daily = await conn.fetch(SQL.campaign_series, campaign_id, "day", options.time_zone)
        followup = await followup_breakdown(conn, campaign_id)
    zone = ZoneInfo(options.time_zone)
    first_seen = min(
        (t for t in (campaign and campaign["started_at"], funnel["first_seen_at"]) if t),
        default=None,
    )
    return CampaignReport(
        campaign_id=campaign_id,
        name=campaign["name"] if campaign else None,
        status=campaign["status"] if campaign else None,
        started_at=campaign["started_at"] if campaign else None,
        finished_at=campaign["finished_at"] if campaign else None,
        funnel=Funnel(
            targeted=campaign["audience_size"] if campaign else None,
            **{name: funnel[name] for name in FUNNEL_COUNTS},
        ),
        delivery_rate=rate(funnel["delivered"], funnel["sent"]),
        read_rate=rate(funnel["read"], funnel["sent"]),
        response_rate=rate(funnel["replied"], funnel["sent"]),
        reply_times=ReplyTimes(
            _seconds(funnel["reply_seconds_p50"]), _seconds(funnel["reply_seconds_p90"])
        ),
        top_responders=[_responder(r, options.reveal_phones) for r in responders],
        errors_by_sender=_errors_by_sender(errors),
        time_zone=options.time_zone,
        hourly=_series(hourly, zone),
        daily=_series(daily, zone),
        retention=retention_of(first_seen, options.stream_max_age, now),
        followup=followup,
    )


FUNNEL_COUNTS = (
    "requested",
    "enqueued",
    "sent",
    "delivered",
    "read",
    "replied",
    "failed",
    "dead",
    "opted_out",
    "needs_template",
    "in_doubt",
    "pending",
)
