"""Moving a conversation: its stage, and who controls it (a takeover, a release), with history.

Each change locks the conversation's row, checks it against the state it finds, writes the new
state, one history line (who, when, why, from what to what) and, through the outbox, one
``conversation.control_changed`` for the dispatcher, all in one transaction. Two people taking
over one conversation at once serialise on the lock: the first wins, the second gets a 409
naming who holds it. Repeating one's own change changes nothing and writes no history.

A human in control, or the stage ``encerrada``, stops every automatic message of the
conversation: the job schedules none, and the dispatcher cancels the ones already queued.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from disparo_shared.events import Controller, ConversationControlChanged, ConversationStage
from disparo_shared.outbox import add_events
from disparo_shared.problems import Problem
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "controls.sql")

HTTP = "http"
EVENT = "event"


@dataclass(frozen=True)
class ConversationChange:
    """What a person asks: a new stage and/or controller, who asks and why."""

    by: str
    reason: str | None = None
    stage: ConversationStage | None = None
    controller: Controller | None = None


@dataclass(frozen=True)
class ChangeResult:
    conversation_id: UUID
    stage: str | None
    controlled_by: str | None
    held_by: str | None
    changed: bool


def not_found(conversation_id: UUID) -> Problem:
    return Problem(
        HTTP_404_NOT_FOUND, "Conversation not found", f"no conversation {conversation_id}"
    )


def _refusal(row: asyncpg.Record, change: ConversationChange) -> Problem | None:
    """Why ``change`` cannot apply to the conversation as found (a 409), or None."""
    human = row["controlled_by"] == Controller.HUMAN
    if change.controller == Controller.HUMAN and human and row["held_by"] != change.by:
        holder = row["held_by"] or "the recruiter system"
        since = row["changed_at"].isoformat() if row["changed_at"] else "earlier"
        return Problem(
            HTTP_409_CONFLICT,
            "Conversation already taken over",
            f"{holder} took this conversation over at {since}; it must be released first",
            errors=[{"field": "by", "reason": f"held by {holder}"}],
        )
    if change.controller == Controller.AUTOMATION and not human:
        return Problem(
            HTTP_409_CONFLICT,
            "Conversation not taken over",
            "automation already controls this conversation: there is nothing to release",
            errors=[{"field": "conversation_id", "reason": "not taken over"}],
        )
    return None


async def change_conversation(
    pool: asyncpg.Pool, conversation_id: UUID, change: ConversationChange, now: datetime
) -> ChangeResult:
    """Apply ``change`` (404 unknown conversation, 409 when its state forbids it)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(SQL.lock_conversation, conversation_id)
        if row is None:
            raise not_found(conversation_id)
        if refusal := _refusal(row, change):
            raise refusal
        stage = change.stage.value if change.stage else row["stage"]
        controller = change.controller.value if change.controller else row["controlled_by"]
        held_by = change.by if controller == Controller.HUMAN else None
        if controller == row["controlled_by"] == Controller.HUMAN:
            held_by = row["held_by"]
        if (stage, controller) == (row["stage"], row["controlled_by"]):
            return ChangeResult(conversation_id, stage, controller, row["held_by"], changed=False)
        await conn.execute(SQL.apply_change, conversation_id, stage, controller, held_by, now)
        await conn.execute(
            SQL.record_change,
            conversation_id,
            now,
            change.by,
            change.reason,
            HTTP,
            row["stage"],
            stage,
            row["controlled_by"],
            controller,
        )
        await add_events(
            conn,
            [
                ConversationControlChanged(
                    conversation_id=conversation_id,
                    contact_id=row["contact_id"],
                    stage=ConversationStage(stage) if stage else None,
                    controlled_by=Controller(controller or Controller.AUTOMATION),
                    stopped=controller == Controller.HUMAN or stage == ConversationStage.ENCERRADA,
                    by=change.by,
                    reason=change.reason,
                    occurred_at=now,
                )
            ],
        )
        return ChangeResult(conversation_id, stage, controller, held_by, changed=True)


async def record_event_change(
    conn: asyncpg.Connection,
    before: asyncpg.Record | None,
    conversation_id: UUID,
    stage: str,
    controller: str,
    at: datetime,
) -> None:
    """A history line for a change the recruiter system published (stage_changed)."""
    stage_before = before["stage"] if before else None
    controller_before = before["controlled_by"] if before else None
    if (stage_before, controller_before) == (stage, controller):
        return
    await conn.execute(
        SQL.record_change,
        conversation_id,
        at,
        "recruiter-system",
        None,
        EVENT,
        stage_before,
        stage,
        controller_before,
        controller,
    )
