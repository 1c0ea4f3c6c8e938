"""Saved segments and audience previews: plain handlers over a connection, no HTTP in sight.

A segment is referenced by its uuid (saved) or ``predefined:<key>``; wherever one is accepted an
inline filter may be given instead. Every audience query excludes opted-out contacts.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from disparo_campaign_api.pagination import decode_cursor, paginate
from disparo_campaign_api.segments.capacity import estimate_send_seconds
from disparo_campaign_api.segments.filters import (
    Filter,
    FilterError,
    Parameters,
    audience_condition,
    filter_to_json,
    opted_out_condition,
    parse_filter,
)
from disparo_campaign_api.segments.predefined import PREDEFINED, PREFIX, find_predefined
from disparo_shared.privacy import mask_phone
from disparo_shared.problems import Problem, invalid
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "queries.sql")
SAMPLE_SIZE = 10
ESTIMATE_NOTE = (
    "estimated_send_seconds assumes the configured sender capacity and the campaign's max_per_day;"
    " the dispatcher's real limits (warm-up, spacing, quiet hours, retries) decide the actual pace."
)


def checked_filter(raw: Any, path: str = "filter") -> Filter:
    """Parse a filter from a request, answering 422 with the path of the offending node."""
    try:
        return parse_filter(raw, path)
    except FilterError as exc:
        raise invalid(exc.path, exc.reason) from None


def not_found(what: str, ident: object) -> Problem:
    return Problem(HTTP_404_NOT_FOUND, "Not found", f"{what} {ident} does not exist")


def segment_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "filter": row["filter"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def parse_segment_id(segment_id: str, field: str = "segment_id") -> UUID | str:
    """A saved segment's UUID, or the ``predefined:<key>`` text of a known predefined one."""
    if segment_id.startswith(PREFIX):
        if find_predefined(segment_id) is None:
            known = ", ".join(s.id for s in PREDEFINED.values())
            raise invalid(field, f"unknown predefined segment {segment_id!r}; known: {known}")
        return segment_id
    try:
        return UUID(segment_id)
    except ValueError:
        raise invalid(field, "must be a segment uuid or predefined:<key>") from None


async def segment_filter(
    conn: asyncpg.Connection, segment_id: str, field: str = "segment_id"
) -> Filter:
    """The filter a segment id stands for, read now (so relative dates stay relative)."""
    ref = parse_segment_id(segment_id, field)
    if isinstance(ref, str):
        predefined = find_predefined(ref)
        assert predefined is not None  # checked by parse_segment_id
        return predefined.parsed()
    row = await conn.fetchrow(SQL.get_segment, ref)
    if row is None:
        raise not_found("segment", ref)
    return parse_filter(row["filter"])


async def audience_filter(
    conn: asyncpg.Connection, segment_id: str | None, raw_filter: Any
) -> Filter:
    """Exactly one of ``segment_id`` and ``filter`` designates the audience."""
    if (segment_id is None) == (raw_filter is None):
        raise invalid("segment_id", "give exactly one of segment_id and filter")
    if segment_id is not None:
        return await segment_filter(conn, segment_id)
    return checked_filter(raw_filter)


def audience_sql(
    query: str, audience: Filter, now: datetime, fixed_params: int = 0
) -> tuple[str, list[Any]]:
    """A named audience query with its ``{audience}`` filled in, and the filter's parameters."""
    params = Parameters(first_index=fixed_params + 1)
    condition = audience_condition(audience, now, params)
    return query.replace("{audience}", condition), params.values


async def count_audience(conn: asyncpg.Connection, audience: Filter, now: datetime) -> int:
    sql, params = audience_sql(SQL.count_audience, audience, now)
    return await conn.fetchval(sql, *params)


async def count_opted_out_matches(conn: asyncpg.Connection, audience: Filter, now: datetime) -> int:
    """Opted-out contacts the filter matches: the audience's one exclusion known here."""
    params = Parameters(first_index=1)
    sql = SQL.count_opted_out_matches.replace(
        "{audience}", opted_out_condition(audience, now, params)
    )
    return await conn.fetchval(sql, *params.values)


async def sample_audience(
    conn: asyncpg.Connection, audience: Filter, now: datetime, limit: int = SAMPLE_SIZE
) -> list[asyncpg.Record]:
    sql, params = audience_sql(SQL.sample_audience, audience, now, fixed_params=1)
    return await conn.fetch(sql, limit, *params)


# ---------------------------------------------------------------------------------------------
# Handlers


async def preview_segment(
    conn: asyncpg.Connection,
    *,
    segment_id: str | None,
    raw_filter: Any,
    max_per_day: int | None,
    now: datetime,
    send_rate_per_second: float,
) -> dict[str, Any]:
    """Exact count, what the filter matched before exclusions and why each excluded doctor was
    left out, a masked sample and the send-time estimate of an audience.

    "1.240 correspondem → −38 descadastrados = 1.202" is ``matched`` 1240, ``excluded``
    ``[{"reason": "opted_out", "count": 38}]`` and ``count`` 1202.
    """
    audience = await audience_filter(conn, segment_id, raw_filter)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        count = await count_audience(conn, audience, now)
        opted_out = await count_opted_out_matches(conn, audience, now)
        sample = await sample_audience(conn, audience, now) if count else []
    return {
        "count": count,
        "matched": count + opted_out,
        "excluded": [{"reason": "opted_out", "count": opted_out}],
        "sample": [
            {
                "id": str(row["id"]),
                "phone": mask_phone(row["phone"]),
                "name": row["name"],
                "specialty": row["specialty"],
                "region": row["region"],
                "tags": list(row["tags"]),
            }
            for row in sample
        ],
        "estimated_send_seconds": estimate_send_seconds(count, send_rate_per_second, max_per_day),
        "estimate_note": ESTIMATE_NOTE,
    }


async def create_segment(
    conn: asyncpg.Connection, *, name: str, description: str | None, raw_filter: Any, now: datetime
) -> dict[str, Any]:
    parsed = checked_filter(raw_filter)
    row = await conn.fetchrow(SQL.insert_segment, name, description, filter_to_json(parsed), now)
    return segment_json(row)


async def get_segment(conn: asyncpg.Connection, segment_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow(SQL.get_segment, segment_id)
    if row is None:
        raise not_found("segment", segment_id)
    return segment_json(row)


async def list_segments(
    conn: asyncpg.Connection, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    """One page in creation order, resuming after ``cursor`` (keyset on created_at, id)."""
    created_at, last_id = decode_cursor(cursor, (datetime.fromisoformat, UUID)) or (None, None)
    rows = await conn.fetch(SQL.list_segments, created_at, last_id, limit + 1)
    page = paginate(rows, limit, lambda r: (r["created_at"], r["id"]))
    return {"items": [segment_json(r) for r in page.items], "next_cursor": page.next_cursor}


async def update_segment(
    conn: asyncpg.Connection,
    segment_id: UUID,
    *,
    changes: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Apply the given fields (name, description, filter); absent fields keep their value."""
    async with conn.transaction():
        current = await conn.fetchrow(SQL.lock_segment, segment_id)
        if current is None:
            raise not_found("segment", segment_id)
        name = changes.get("name", current["name"])
        description = changes.get("description", current["description"])
        stored_filter = current["filter"]
        if "filter" in changes:
            stored_filter = filter_to_json(checked_filter(changes["filter"]))
        row = await conn.fetchrow(
            SQL.update_segment, segment_id, name, description, stored_filter, now
        )
    return segment_json(row)


async def delete_segment(conn: asyncpg.Connection, segment_id: UUID) -> None:
    """Forget a segment, unless a campaign that has not started yet still targets it (409)."""
    async with conn.transaction():
        waiting = await conn.fetch(SQL.campaigns_waiting_on_segment, str(segment_id))
        if waiting:
            ids = ", ".join(str(r["id"]) for r in waiting)
            raise Problem(
                HTTP_409_CONFLICT,
                "Segment in use",
                f"segment {segment_id} is the audience of campaigns not yet started: {ids}",
            )
        if await conn.fetchval(SQL.delete_segment, segment_id) is None:
            raise not_found("segment", segment_id)


def predefined_segments_json() -> list[dict[str, Any]]:
    return [
        {"id": s.id, "name": s.name, "description": s.description, "filter": s.filter}
        for s in PREDEFINED.values()
    ]
