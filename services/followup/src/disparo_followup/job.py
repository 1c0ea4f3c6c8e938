"""The follow-up job: request every due follow-up, in batches, through the outbox.

Each batch is one transaction: one set-based statement selects up to ``batch_size`` due
conversations and records their follow-ups under the (conversation, stage, n) key, and one
``MessagesRequested`` event (more when its bytes would pass the cap) is staged in the outbox. A
batch that commits has both; a crash has neither. Running the job twice requests nothing new:
the second run finds each conversation waiting for the follow-up the first one requested.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg

from disparo_followup.metrics import FOLLOWUPS_REQUESTED
from disparo_followup.rules import FollowupRule
from disparo_followup.settings import FollowupSettings
from disparo_followup.texts import pick_variant, render
from disparo_shared.events import (
    ConversationStage,
    MessageKind,
    RequestedMessage,
)
from disparo_shared.events.sizing import split_requested
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "followups.sql")
log = get_logger(__name__)


@dataclass(frozen=True)
class FollowupSummary:
    """What one run requested, per stage."""

    ran_at: datetime
    requested: int
    by_stage: dict[str, int] = field(default_factory=dict)


def _rule_arrays(settings: FollowupSettings) -> tuple[list[str], list, list[int]]:
    rules = list(settings.followup_rules().values())
    return (
        [r.stage.value for r in rules],
        [r.delay for r in rules],
        [r.max_followups for r in rules],
    )


def _requested_message(
    row: asyncpg.Record, rules: dict[ConversationStage, FollowupRule], settings: FollowupSettings
) -> RequestedMessage:
    stage = row["stage"]
    variants = rules[ConversationStage(stage)].variants(row["n"])
    text = pick_variant(variants, row["conversation_id"], row["n"])
    return RequestedMessage(
        message_id=row["message_id"],
        idempotency_key=f"followup:{row['conversation_id']}:{stage}:{row['n']}",
        contact_id=row["contact_id"],
        phone=row["phone"],
        kind=MessageKind.FOLLOWUP,
        body=render(text, row["contact_name"]),
        priority=settings.priority,
        campaign_id=row["campaign_id"],
        conversation_id=row["conversation_id"],
        max_attempts=settings.max_attempts,
        contact_name=row["contact_name"],
    )


async def request_due_followups(
    pool: asyncpg.Pool, settings: FollowupSettings, now: datetime
) -> FollowupSummary:
    """Request the follow-ups due at ``now``; return how many, per stage."""
    rules = settings.followup_rules()
    stages, delays, caps = _rule_arrays(settings)
    by_stage: Counter[str] = Counter()
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                SQL.request_due_followups, now, stages, delays, caps, settings.batch_size
            )
            if rows:
                messages = [_requested_message(row, rules, settings) for row in rows]
                await add_events(conn, split_requested(messages))  # each under the byte cap
        by_stage.update(row["stage"] for row in rows)
        if len(rows) < settings.batch_size:
            break
    for stage, count in by_stage.items():
        FOLLOWUPS_REQUESTED.labels(stage).inc(count)
    summary = FollowupSummary(ran_at=now, requested=sum(by_stage.values()), by_stage=dict(by_stage))
    log.info("follow-ups requested", requested=summary.requested, by_stage=summary.by_stage)
    return summary
