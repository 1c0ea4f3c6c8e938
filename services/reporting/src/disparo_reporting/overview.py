"""Every campaign of a period side by side, sortable and cursor-paginated.

Sorting is by one of ``SORT_KEYS`` (each a number: rates in [0, 1], sizes, the start as epoch
seconds), ties broken by campaign id, so the keyset ``(sort value, campaign id)`` names a
position exactly. The cursor is that pair, base64url-encoded JSON: opaque to clients, and a page
never skips or repeats a campaign whatever is inserted meanwhile.

Cost of failures: dead messages × ``message_price`` (the budget a campaign set aside for doctors
it never reached), with the count beside it.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "reports.sql")


class SortKey(StrEnum):
    STARTED_AT = "started_at"
    SIZE = "size"
    SENT = "sent"
    DELIVERY_RATE = "delivery_rate"
    READ_RATE = "read_rate"
    REPLY_RATE = "reply_rate"
    OPT_OUT_RATE = "opt_out_rate"
    FAILURE_COST = "failure_cost"


SORT_KEYS: dict[SortKey, str] = {
    SortKey.STARTED_AT: "extract(epoch FROM started_at)::float8",
    SortKey.SIZE: "size::float8",
    SortKey.SENT: "sent::float8",
    SortKey.DELIVERY_RATE: "coalesce(delivery_rate, -1)",
    SortKey.READ_RATE: "coalesce(read_rate, -1)",
    SortKey.REPLY_RATE: "coalesce(reply_rate, -1)",
    SortKey.OPT_OUT_RATE: "coalesce(opt_out_rate, -1)",
    SortKey.FAILURE_COST: "dead::float8",
}
"""SQL of each sort key's value: rates without sends sort as -1 (below every real rate)."""


class Direction(StrEnum):
    ASC = "asc"
    DESC = "desc"


class InvalidCursor(ValueError):
    """The cursor was not one this endpoint gave out."""


@dataclass(frozen=True)
class CampaignSummary:
    campaign_id: UUID
    name: str | None
    status: str | None
    started_at: datetime | None
    size: int
    sent: int
    delivered: int
    read: int
    replied: int
    opted_out: int
    dead: int
    delivery_rate: float | None
    read_rate: float | None
    reply_rate: float | None
    opt_out_rate: float | None
    failure_cost: float


@dataclass(frozen=True)
class OverviewPage:
    campaigns: list[CampaignSummary]
    next_cursor: str | None


def encode_cursor(value: float, campaign_id: UUID) -> str:
    raw = json.dumps([value, str(campaign_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, campaign_id = json.loads(raw)
        return float(value), UUID(campaign_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("cursor is not one this endpoint returned") from exc


def _statement(sort: SortKey, direction: Direction, has_cursor: bool) -> str:
    value = SORT_KEYS[sort]
    comparison = ">" if direction is Direction.ASC else "<"
    after = f"({value}, campaign_id) {comparison} ($4::float8, $5::uuid)" if has_cursor else "true"
    return (
        SQL.campaigns_overview.replace("{sort_value}", value)
        .replace("{after}", after)
        .replace("{direction}", direction.value.upper())
    )


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


async def campaigns_overview(
    pool: asyncpg.Pool,
    period_from: datetime,
    period_to: datetime,
    sort: SortKey,
    direction: Direction,
    limit: int,
    cursor: str | None,
    message_price: float,
) -> OverviewPage:
    """One page of the period's campaigns; ``next_cursor`` is None on the last page."""
    args: list[object] = [period_from, period_to, limit + 1]
    if cursor is not None:
        args.extend(decode_cursor(cursor))
    rows = await pool.fetch(_statement(sort, direction, cursor is not None), *args)
    more = len(rows) > limit
    rows = rows[:limit]
    campaigns = [
        CampaignSummary(
            campaign_id=r["campaign_id"],
            name=r["name"],
            status=r["status"],
            started_at=r["started_at"],
            size=r["size"],
            sent=r["sent"],
            delivered=r["delivered"],
            read=r["read"],
            replied=r["replied"],
            opted_out=r["opted_out"],
            dead=r["dead"],
            delivery_rate=_rounded(r["delivery_rate"]),
            read_rate=_rounded(r["read_rate"]),
            reply_rate=_rounded(r["reply_rate"]),
            opt_out_rate=_rounded(r["opt_out_rate"]),
            failure_cost=round(r["dead"] * message_price, 2),
        )
        for r in rows
    ]
    next_cursor = (
        encode_cursor(rows[-1]["sort_value"], rows[-1]["campaign_id"]) if more and rows else None
    )
    return OverviewPage(campaigns, next_cursor)
