"""The business portfolio's messaging tier: unique business-initiated recipients per rolling
24 h, shared by every number of the portfolio (Meta's rule since October 2025).

A template send (business-initiated: the doctor's window is closed) needs room in its portfolio:
a doctor the portfolio already reached in the last 24 h costs nothing more; a new one takes one
of the tier's places (``messaging_tiers``: data, not constants); with none left it waits, for no
attempt, until the oldest place frees. Free text inside the window (a reply) is not counted and
never waits for the tier. Reservations are taken at claim time under a per-portfolio advisory
lock, so replicas together never exceed the tier; a send that then fails keeps its place (the
safe side). A number Meta rates RED takes no new campaign traffic (``quality_allows``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "tiers.sql")
WINDOW = timedelta(hours=24)
RED = "RED"
RETRY_WHEN_FULL = timedelta(minutes=5)


@dataclass(frozen=True)
class Usage:
    """A portfolio's window: its limit (None: unlimited), places used, and which of the asked
    phones already hold one."""

    limit: int | None
    used: int
    known: frozenset[str]


def grant(phones: Iterable[str], usage: Usage) -> tuple[list[str], list[str]]:
    """Split ``phones`` (in order of urgency) into those that may be reached now and those that
    must wait: known phones always pass; new ones while places remain. Each phone counts once."""
    granted: list[str] = []
    refused: list[str] = []
    taken: set[str] = set()
    used = usage.used
    for phone in phones:
        if phone in usage.known or phone in taken:
            granted.append(phone)
        elif usage.limit is None or used < usage.limit:
            granted.append(phone)
            taken.add(phone)
            used += 1
        else:
            refused.append(phone)
    return granted, refused


def quality_allows(quality: str, kind: str) -> bool:
    """A RED number sends replies and follow-ups of live conversations, but no campaign."""
    return not (quality == RED and kind == "campaign")


async def usage(
    conn: asyncpg.Connection,
    portfolios: list[str],
    phones: list[str],
    now: datetime,
    default_tier: str,
) -> dict[str, Usage]:
    rows = await conn.fetch(SQL.portfolio_usage, portfolios, now - WINDOW, phones, default_tier)
    return {
        row["portfolio"]: Usage(row["tier_limit"], row["used"], frozenset(row["known"]))
        for row in rows
    }


async def reserve(
    conn: asyncpg.Connection,
    wanted: dict[str, list[tuple[str, str]]],
    now: datetime,
    default_tier: str = "TIER_250",
) -> dict[str, set[str]]:
    """For each portfolio, the (phone, sender) pairs asking for a place, most urgent first:
    returns the phones granted per portfolio and records them. Call inside a transaction."""
    portfolios = sorted(wanted)
    await conn.execute(SQL.lock_portfolios, portfolios)
    phones = sorted({phone for pairs in wanted.values() for phone, _ in pairs})
    current = await usage(conn, portfolios, phones, now, default_tier)
    granted: dict[str, set[str]] = {}
    rows: list[tuple[str, str, str]] = []
    for portfolio in portfolios:
        pairs = wanted[portfolio]
        passed, _ = grant([phone for phone, _ in pairs], current[portfolio])
        granted[portfolio] = set(passed)
        sender_of = {phone: sender for phone, sender in pairs}
        rows += [(portfolio, phone, sender_of[phone]) for phone in sorted(set(passed))]
    if rows:
        await conn.execute(
            SQL.record_initiated,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [now] * len(rows),
        )
    return granted


async def sender_health(
    conn: asyncpg.Connection, now: datetime, default_tier: str = "TIER_250"
) -> dict[str, dict[str, Any]]:
    """Tier, limit and the window's use per Cloud sender, for ``GET /v1/senders``."""
    rows = await conn.fetch(SQL.sender_health, now - WINDOW, default_tier)
    return {
        row["sender_id"]: {
            "tier": row["tier"],
            "tier_limit": row["tier_limit"],
            "portfolio_recipients_24h": row["portfolio_recipients_24h"],
            "recipients_24h": row["recipients_24h"],
        }
        for row in rows
    }
