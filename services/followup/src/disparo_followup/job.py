"""The follow-up job: request every due follow-up, in batches, through the outbox.

Each batch is one transaction: one set-based statement selects up to ``batch_size`` due
conversations and records their follow-ups under the (conversation, stage, n) key, and one
``MessagesRequested`` event (more when its bytes would pass the cap) is staged in the outbox. A
batch that commits has both; a crash has neither. Running the job twice requests nothing new:
the second run finds each conversation waiting for the follow-up the first one requested.

Before the batches, one statement counts, per rule, the conversations that are not due and why
(replied, opted out, taken over, max reached, waiting for the delay…): the summary says per
rule what was scheduled and what was skipped.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg

from disparo_followup.campaign_plans import rule_sets_in_force
from disparo_followup.metrics import FOLLOWUPS_REQUESTED
from disparo_followup.rule_sets import RuleSet
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
class RuleOutcome:
    """One rule's share of a run: follow-ups requested, conversations skipped by reason."""

    scheduled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowupSummary:
    """What one run requested, per stage and per rule (``padrao/primeiro_contato``)."""

    ran_at: datetime
    requested: int
    by_stage: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, RuleOutcome] = field(default_factory=dict)


def _rule_arrays(sets: dict[str, RuleSet]) -> tuple[list, list, list, list, list]:
    rows = [(s, stage, rule) for s in sets.values() for stage, rule in s.rules.items()]
    return (
        [s.name for s, _, _ in rows],
        [s.version for s, _, _ in rows],
        [stage.value for _, stage, _ in rows],
        [rule.delay for _, _, rule in rows],
        [rule.max_followups for _, _, rule in rows],
    )


def _requested_message(
    row: asyncpg.Record, sets: dict[str, RuleSet], settings: FollowupSettings
) -> RequestedMessage:
    stage = row["stage"]
    rule = sets[row["rule_set"]].rules[ConversationStage(stage)]
    text = pick_variant(rule.variants(row["n"]), row["conversation_id"], row["n"])
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
        followup_attempt=row["n"],
        followup_rule=f"{row['rule_set']}/{stage}",
        template=rule.template.filled(row["contact_name"]) if rule.template else None,
    )


async def _skipped_by_rule(
    pool: asyncpg.Pool, sets: dict[str, RuleSet], now: datetime
) -> dict[str, dict[str, int]]:
    names, _, stages, delays, caps = _rule_arrays(sets)
    rows = await pool.fetch(SQL.followup_outlook, now, names, stages, delays, caps)
    skipped: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        if row["reason"] is not None:
            skipped[f"{row['rule_set']}/{row['stage']}"][row["reason"]] = row["conversations"]
    return skipped


async def request_due_followups(
    pool: asyncpg.Pool, settings: FollowupSettings, now: datetime
) -> FollowupSummary:
    """Request the follow-ups due at ``now``; return how many, per stage and per rule."""
    sets = await rule_sets_in_force(pool, settings.followup_rules())
    skipped = await _skipped_by_rule(pool, sets, now)
    names, versions, stages, delays, caps = _rule_arrays(sets)
    by_stage: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                SQL.request_due_followups,
                now,
                names,
                versions,
                stages,
                delays,
                caps,
                settings.batch_size,
            )
            if rows:
                messages = [_requested_message(row, sets, settings) for row in rows]
                await add_events(conn, split_requested(messages))  # each under the byte cap
        by_stage.update(row["stage"] for row in rows)
        by_rule.update(f"{row['rule_set']}/{row['stage']}" for row in rows)
        if len(rows) < settings.batch_size:
            break
    for stage, count in by_stage.items():
        FOLLOWUPS_REQUESTED.labels(stage).inc(count)
    summary = FollowupSummary(
        ran_at=now,
        requested=sum(by_stage.values()),
        by_stage=dict(by_stage),
        by_rule={
            key: RuleOutcome(by_rule.get(key, 0), skipped.get(key, {}))
            for key in sorted(set(by_rule) | set(skipped))
        },
    )
    log.info("follow-ups requested", requested=summary.requested, by_stage=summary.by_stage)
    return summary
