"""What message events say about messages, written many at a time: one event or a whole batch.

A message event becomes facts about message rows (``MessageFact``), entries of their status
histories (``HistoryEntry``) and inbound replies (``InboundReply``); each kind is written by one
set-based statement however many there are, so projecting 500 events costs a few statements,
not 500 transactions. The rules of each column live in ``sql/message_facts.sql`` only.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "message_facts.sql")


@dataclass(frozen=True, slots=True)
class MessageFact:
    """One event's word on one message row; ``None`` says nothing about that column."""

    message_id: UUID
    state: str
    campaign_id: UUID | None = None
    conversation_id: UUID | None = None
    kind: str | None = None
    sender: str | None = None
    attempts: int | None = None
    enqueued_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: str | None = None
    error: str | None = None
    dead: bool | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    message_id: UUID
    event_id: UUID
    status: str
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True)
class InboundReply:
    """A doctor's message: ``phone`` in reporting's canonical form, ``preview`` its first
    words, ``received_at`` when the dispatcher took it in (the event's time)."""

    event_id: UUID
    phone: str
    at: datetime
    preview: str
    received_at: datetime


async def apply_facts(
    conn: asyncpg.Connection, facts: Sequence[MessageFact]
) -> dict[UUID, str | None]:
    """Apply ``facts`` in their order (several may be about one message); returns each
    message's phone, known once its request is projected."""
    if not facts:
        return {}
    rows = await conn.fetch(
        SQL.project_message_facts,
        [f.message_id for f in facts],
        [f.campaign_id for f in facts],
        [f.conversation_id for f in facts],
        [f.kind for f in facts],
        [f.sender for f in facts],
        [f.state for f in facts],
        [f.attempts for f in facts],
        [f.enqueued_at for f in facts],
        [f.sent_at for f in facts],
        [f.delivered_at for f in facts],
        [f.read_at for f in facts],
        [f.failed_at for f in facts],
        [f.error_code for f in facts],
        [f.error for f in facts],
        [f.dead for f in facts],
        list(range(len(facts))),
    )
    return {row["message_id"]: row["phone"] for row in rows}


async def add_history(conn: asyncpg.Connection, entries: Sequence[HistoryEntry]) -> None:
    if entries:
        await conn.execute(
            SQL.add_history,
            [e.message_id for e in entries],
            [e.event_id for e in entries],
            [e.status for e in entries],
            [e.at for e in entries],
            [e.detail for e in entries],
        )


async def known_phones(conn: asyncpg.Connection, message_ids: Sequence[UUID]) -> list[str]:
    """The phones of these messages that their projected requests told."""
    if not message_ids:
        return []
    return [row["phone"] for row in await conn.fetch(SQL.message_phones, message_ids)]


async def record_replies(
    conn: asyncpg.Connection, replies: Sequence[InboundReply], reply_window: timedelta
) -> None:
    """Store ``replies``, each with the message it answers; the caller holds their doctors'
    attribution locks (``attribution_locks``)."""
    if replies:
        await conn.execute(
            SQL.record_replies,
            [r.event_id for r in replies],
            [r.phone for r in replies],
            [r.at for r in replies],
            [r.preview for r in replies],
            [r.received_at for r in replies],
            reply_window,
        )
