"""Automatic messages (follow-ups) stop when their conversation moves on.

A follow-up is written days ahead on the assumption that the doctor is still silent and that
automation still holds the conversation. When the doctor replies, opts out, a human takes the
conversation over, or it is closed, the follow-ups already queued for it are cancelled at once
(``message.cancelled`` with the reason, so reports see them), and a follow-up already claimed
by a sender is checked once more right before its provider call (``confirm_send``).

The two meet on the message's row lock, so the race has one answer: a reply recorded before the
confirmation cancels the follow-up; a reply recorded after it finds the follow-up confirmed and
on its way. "Replied" means the phone's latest reply is newer than our latest send to it, by our
own clock, so a follow-up queued just after a reply is also caught at the confirmation.
"""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import asyncpg

from disparo_dispatcher.queue import ClaimedMessage
from disparo_shared.events import (
    Controller,
    ConversationControlChanged,
    ConversationStage,
    ConversationStageChanged,
    Event,
    MessageCancelled,
)
from disparo_shared.inbox import first_delivery
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "conversations.sql")

AUTOMATIC_KINDS = frozenset({"followup"})
CONTROLS_CONSUMER = "dispatcher.conversation_controls"

REPLIED = "replied"
OPTED_OUT = "opted_out"
TAKEN_OVER = "taken_over"
CLOSED = "closed"


def cancelled_events(rows: Sequence[asyncpg.Record], reason: str | None = None) -> list[Event]:
    return [
        MessageCancelled(
            message_id=row["message_id"],
            campaign_id=row["campaign_id"],
            conversation_id=row["conversation_id"],
            kind=row["kind"],
            reason=reason or row["reason"],
        )
        for row in rows
    ]


async def stop_for_replies(
    conn: asyncpg.Connection, phones: Sequence[str], now: datetime
) -> list[Event]:
    """Record that ``phones`` replied and cancel their pending follow-ups (caller's transaction)."""
    if not phones:
        return []
    ordered = sorted(set(phones))
    await conn.execute(SQL.record_inbound_phones, ordered, now)
    rows = await conn.fetch(SQL.cancel_automatic_for_phones, ordered, now, REPLIED)
    return cancelled_events(rows, REPLIED)


async def stop_for_opt_outs(
    conn: asyncpg.Connection, phones: Sequence[str], now: datetime
) -> list[Event]:
    """Cancel the pending follow-ups of opted-out phones, telling each (caller's transaction)."""
    rows = await conn.fetch(SQL.cancel_automatic_for_phones, sorted(set(phones)), now, OPTED_OUT)
    return cancelled_events(rows, OPTED_OUT)


def control_of(event: ConversationStageChanged | ConversationControlChanged) -> tuple[bool, str]:
    """Whether the event stops the conversation's automatic messages, and why."""
    closed = event.stage == ConversationStage.ENCERRADA
    human = event.controlled_by == Controller.HUMAN
    stopped = event.stopped if isinstance(event, ConversationControlChanged) else closed or human
    return stopped, CLOSED if closed else TAKEN_OVER


async def apply_conversation_control(
    pool: asyncpg.Pool,
    event: ConversationStageChanged | ConversationControlChanged,
    now: datetime,
) -> int:
    """Keep whether the conversation is stopped; when it now is, cancel its pending follow-ups.
    Returns how many were cancelled."""
    stopped, reason = control_of(event)
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, CONTROLS_CONSUMER, event.event_id):
            return 0
        applied = await conn.fetchval(
            SQL.record_conversation_control,
            event.conversation_id,
            stopped,
            reason if stopped else None,
            event.occurred_at,
        )
        if applied is None or not stopped:
            return 0
        rows = await conn.fetch(
            SQL.cancel_automatic_for_conversation, event.conversation_id, now, reason
        )
        await add_events(conn, cancelled_events(rows, reason))
        return len(rows)


async def confirm_send(pool: asyncpg.Pool, message: ClaimedMessage, now: datetime) -> bool:
    """True when the claimed follow-up may go to the provider now; False when it was cancelled
    (here, with its event, or before by a reply, an opt-out or a takeover)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            SQL.confirm_automatic_send, message.message_id, message.attempt, now
        )
        if row is None:
            return False  # no longer this attempt's to send: cancelled or reclaimed meanwhile
        if row["reason"] is None:
            return True
        await add_events(conn, cancelled_events([row]))
        return False
