"""What the HTTP API shows of conversations: a filtered, cursor-paginated list and one
conversation with its timeline (messages both ways, follow-ups requested, changes of hands)."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from disparo_followup.controls import SQL as CONTROLS_SQL
from disparo_followup.rule_sets import DEFAULT_RULE_SET
from disparo_shared.events import Controller, ConversationStage
from disparo_shared.problems import invalid
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "views.sql")
MAX_TIMELINE = 500


@dataclass(frozen=True)
class ConversationFilter:
    contact_id: UUID | None = None
    campaign_id: UUID | None = None
    stage: ConversationStage | None = None
    controller: Controller | None = None


def parse_filter(
    contact: str | None, campaign: str | None, stage: str | None, controller: str | None
) -> ConversationFilter:
    """The query string's filters, typed; a bad value is a 422 naming its parameter, an empty one
    (``?contact=``, as a form sends it) filters nothing."""

    def uuid_of(name: str, value: str | None) -> UUID | None:
        if not value:
            return None
        try:
            return UUID(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not a UUID") from None

    def member(name: str, kind: type, value: str | None):
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise invalid(name, f"{value!r} is not one of {allowed}") from None

    return ConversationFilter(
        uuid_of("contact", contact),
        uuid_of("campaign", campaign),
        member("stage", ConversationStage, stage),
        member("controller", Controller, controller),
    )


def encode_cursor(conversation_id: UUID) -> str:
    return base64.urlsafe_b64encode(conversation_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> UUID | None:
    if not cursor:
        return None
    try:
        return UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None


def summary_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "conversation_id": str(row["conversation_id"]),
        "contact_id": str(row["contact_id"]) if row["contact_id"] else None,
        "campaign_id": str(row["campaign_id"]) if row["campaign_id"] else None,
        "stage": row["stage"],
        "controlled_by": row["controlled_by"],
        "held_by": row["held_by"],
        "opened_at": row["opened_at"],
        "last_outbound_at": row["last_outbound_at"],
        "last_inbound_at": row["last_inbound_at"],
        "opted_out": row["opted_out"],
        "changed_at": row["changed_at"],
        "rule_set": row["rule_set"] or DEFAULT_RULE_SET,
    }


async def list_conversations(
    pool: asyncpg.Pool, where: ConversationFilter, cursor: str | None, limit: int
) -> dict[str, Any]:
    """One page of conversations in id order; ``next_cursor`` is None on the last page."""
    rows = await pool.fetch(
        SQL.list_conversations,
        where.contact_id,
        where.campaign_id,
        where.stage.value if where.stage else None,
        where.controller.value if where.controller else None,
        decode_cursor(cursor),
        limit + 1,
    )
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [summary_json(row) for row in page],
        "next_cursor": encode_cursor(page[-1]["conversation_id"]) if more and page else None,
    }


async def conversation_detail(pool: asyncpg.Pool, conversation_id: UUID) -> dict[str, Any] | None:
    """The conversation, its messages, its follow-ups and its history; None when unknown."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(SQL.conversation_row, conversation_id)
        if row is None:
            return None
        messages = await conn.fetch(SQL.conversation_messages, conversation_id, MAX_TIMELINE)
        followups = await conn.fetch(SQL.conversation_followups, conversation_id)
        changes = await conn.fetch(CONTROLS_SQL.changes_of, conversation_id)
    return {
        **summary_json(row),
        "messages": [
            {
                "direction": m["direction"],
                "kind": m["kind"],
                "at": m["at"],
                "message_id": m["entry_key"] if m["direction"] == "out" else None,
                "body": m["body"],
            }
            for m in messages
        ],
        "followups": [
            {
                "stage": f["stage"],
                "attempt": f["n"],
                "message_id": str(f["message_id"]),
                "requested_at": f["requested_at"],
            }
            for f in followups
        ],
        "history": [dict(change) for change in changes],
    }


def _timeline_cursor(at: datetime, entry_key: str) -> str:
    raw = json.dumps([at.isoformat(), entry_key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _timeline_after(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        at, entry_key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(entry_key)
    except (ValueError, TypeError, binascii.Error):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None


async def contact_timeline(
    pool: asyncpg.Pool, contact_id: UUID, cursor: str | None, limit: int
) -> dict[str, Any]:
    """One page of a doctor's messages in every conversation, newest first: ours (campaign,
    follow-up, reply, first contact; their text stays with the dispatcher) and theirs (with
    what they wrote). ``next_cursor`` is None on the last page."""
    at, entry_key = _timeline_after(cursor)
    rows = await pool.fetch(SQL.contact_timeline, contact_id, at, entry_key, limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [
            {
                "direction": row["direction"],
                "kind": row["kind"],
                "at": row["at"],
                "message_id": row["entry_key"] if row["direction"] == "out" else None,
                "body": row["body"],
                "conversation_id": str(row["conversation_id"]),
                "campaign_id": str(row["campaign_id"]) if row["campaign_id"] else None,
                "stage": row["stage"],
            }
            for row in page
        ],
        "next_cursor": _timeline_cursor(page[-1]["at"], page[-1]["entry_key"])
        if more and page
        else None,
    }
