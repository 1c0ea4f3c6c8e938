"""Doubtful sends settled by the provider's own word: sent once, never blindly sent twice.

A send is in doubt when nobody knows whether the provider took it:

- a replica died (``kill -9``, a lost node) with the message 'sending': when its lease runs out,
  the sender's next holder moves it to 'in_doubt' (``reclaim_sending_as=resolve``, the default);
- a provider call timed out (or its connection broke after the request went out): the provider
  may have taken it and only the answer was lost; the flush moves it to 'in_doubt' instead of
  scheduling a blind retry.

Every provider we use echoes each send it takes (Cloud: a ``sent`` status naming our message
id; Evolution: ``send.message`` with the recipient and the text), and the webhook routes keep
those echoes (``provider_echoes``). Every ``in_doubt_resolve_interval_seconds`` (1 s) each
replica takes a batch of doubtful messages (``SKIP LOCKED``, so replicas share them) and:

- with a matching echo (``echo_matching``) → 'sent' with the provider's id and time, and
  ``message.sent`` in the same transaction; no second provider call is made;
- with none ``in_doubt_grace_seconds`` (30 s) after the doubt began → back in line, no earlier
  than the backoff chosen when it became doubtful (at least once: the provider most likely
  never took it, since its echo would have come); the attempt stays spent, so a message out of
  attempts is dead; ``message.failed`` tells which.

The grace must exceed the webhook latency: an echo that arrives after the grace comes too late,
and that message is sent twice. A sender whose provider posts no echoes is named in
``senders_without_echoes`` (or ``provider_echoes=false`` for all): its doubts are never held,
so they are retried as before. Settlements are fenced by attempt and by the 'in_doubt' state.

Entering the doubt publishes nothing; only its outcome is told, so reporting never sees a
message fail and then succeed for the same attempt.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_dispatcher import metrics, queue
from disparo_dispatcher.admission import CAMPAIGN_KIND
from disparo_dispatcher.echo_matching import DoubtfulSend, RecordedEcho, body_digest, match_echoes
from disparo_dispatcher.queue import QUEUED
from disparo_dispatcher.quiet_hours import zone
from disparo_shared.events import Event, MessageFailed, MessageSent
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "in_doubt.sql")

RESOLVE_BATCH = 500


@dataclass(frozen=True)
class DoubtRules:
    """How doubts are settled: the echo's grace and the matching window's slack."""

    grace: timedelta
    skew: timedelta
    time_zone: str  # of "today" for recipients' daily campaign counts


FIRST_PAGE = (datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0))


@dataclass(frozen=True)
class Resolution:
    """What one page settled: taken (locked and looked at), sent on an echo, put back; and
    where the next page starts (``None`` after the last page)."""

    taken: int = 0
    sent: int = 0
    given_up: int = 0
    next_page: tuple[datetime, UUID] | None = None


async def resolve_all_in_doubt(
    conn: asyncpg.Connection, now: datetime, rules: DoubtRules, page_size: int = RESOLVE_BATCH
) -> Resolution:
    """Settle every doubtful message, a page (one transaction) at a time; returns the totals."""
    cursor: tuple[datetime, UUID] | None = FIRST_PAGE
    taken = sent = given_up = 0
    while cursor is not None:
        page = await resolve_in_doubt(conn, now, rules, cursor, page_size)
        taken, sent, given_up = taken + page.taken, sent + page.sent, given_up + page.given_up
        cursor = page.next_page
    return Resolution(taken, sent, given_up)


async def resolve_in_doubt(
    conn: asyncpg.Connection,
    now: datetime,
    rules: DoubtRules,
    after: tuple[datetime, UUID] = FIRST_PAGE,
    limit: int = RESOLVE_BATCH,
) -> Resolution:
    """Settle up to ``limit`` doubtful messages after ``after`` in one transaction."""
    async with conn.transaction():
        rows = await conn.fetch(SQL.take_in_doubt, limit, *after)
        if not rows:
            return Resolution()
        doubtful = [
            DoubtfulSend(
                message_id=row["message_id"],
                attempt=row["attempt"],
                provider=row["provider"],
                address=row["address"],
                phone=row["phone"],
                body_sha256=body_digest(row["body"]),
                claimed_at=row["claimed_at"],
                in_doubt_since=row["in_doubt_since"],
            )
            for row in rows
        ]
        echoes, owned = await _candidate_echoes(conn, doubtful, rules.skew)
        matched = match_echoes(doubtful, echoes, rules.skew, owned)
        by_id = {row["message_id"]: row for row in rows}

        events: list[Event] = []
        sent_ids = await _settle_sent(conn, [by_id[i] for i in matched], matched, now, rules)
        events += [_sent_event(by_id[i], matched[i]) for i in sorted(sent_ids)]

        overdue = [
            d
            for d in doubtful
            if d.message_id not in matched and d.in_doubt_since + rules.grace <= now
        ]
        given_up = []
        if overdue:
            given_up = await conn.fetch(
                SQL.give_up_in_doubt,
                [d.message_id for d in overdue],
                [d.attempt for d in overdue],
                now,
            )
        events += [_failed_event(row) for row in given_up]
        await add_events(conn, events)

    metrics.IN_DOUBT_SETTLED.labels("sent").inc(len(sent_ids))
    for row in given_up:
        metrics.IN_DOUBT_SETTLED.labels("retried" if row["state"] == QUEUED else "dead").inc()
    last = rows[-1]
    return Resolution(
        taken=len(rows),
        sent=len(sent_ids),
        given_up=len(given_up),
        next_page=(last["in_doubt_since"], last["message_id"]) if len(rows) == limit else None,
    )


async def _candidate_echoes(
    conn: asyncpg.Connection, doubtful: list[DoubtfulSend], skew: timedelta
) -> tuple[list[RecordedEcho], set[str]]:
    """Echoes naming these messages, and those that may match one by content and time."""
    by_content = [d for d in doubtful if d.provider and d.address and d.claimed_at is not None]
    earliest = min((d.claimed_at for d in by_content), default=None)
    latest = max((d.in_doubt_since for d in by_content), default=None)
    rows = await conn.fetch(
        SQL.find_echoes_for_in_doubt,
        [d.message_id for d in doubtful],
        [d.provider for d in by_content],
        [d.address for d in by_content],
        [d.phone for d in by_content],
        [d.body_sha256 for d in by_content],
        (earliest - skew) if earliest else None,
        (latest + skew) if latest else None,
    )
    echoes = [
        RecordedEcho(
            provider=row["provider"],
            provider_message_id=row["provider_message_id"],
            address=row["address"],
            message_id=row["message_id"],
            recipient=row["recipient"],
            body_sha256=row["body_sha256"],
            at=row["at"],
        )
        for row in rows
    ]
    return echoes, {row["provider_message_id"] for row in rows if row["owned"]}


async def _settle_sent(
    conn: asyncpg.Connection,
    rows: list[asyncpg.Record],
    matched: dict,
    now: datetime,
    rules: DoubtRules,
) -> set:
    """Mark matched messages sent (fenced) and record their recipients' pacing; returns ids."""
    if not rows:
        return set()
    confirmed = await conn.fetch(
        SQL.settle_in_doubt_as_sent,
        [row["message_id"] for row in rows],
        [row["attempt"] for row in rows],
        [matched[row["message_id"]].provider_message_id for row in rows],
        [matched[row["message_id"]].at for row in rows],
        now,
    )
    sent_ids = {row["message_id"] for row in confirmed}
    done = [row for row in rows if row["message_id"] in sent_ids]
    await queue.record_recipient_sends(
        conn,
        [row["phone"] for row in done],
        [row["sender_id"] for row in done],
        [matched[row["message_id"]].at for row in done],
        [1 if row["kind"] == CAMPAIGN_KIND else 0 for row in done],
        now.astimezone(zone(rules.time_zone)).date(),
    )
    return sent_ids


def _sent_event(row: asyncpg.Record, echo: RecordedEcho) -> MessageSent:
    return MessageSent(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        contact_id=row["contact_id"],
        conversation_id=row["conversation_id"],
        kind=row["kind"],
        provider_message_id=echo.provider_message_id,
        sender=row["sender_id"],
        attempt=row["attempt"],
        sent_at=echo.at,
    )


def _failed_event(row: asyncpg.Record) -> MessageFailed:
    retryable = row["state"] == QUEUED
    return MessageFailed(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        attempt=row["attempt"],
        error_code=row["last_error_code"] or "in_doubt",
        error=(row["last_error"] or "") + " (the provider did not say it sent it within the grace)",
        retryable=retryable,
        next_attempt_at=row["due_at"] if retryable else None,
        final=not retryable,
    )


async def prune_echoes(conn: asyncpg.Connection, now: datetime, retention: timedelta) -> None:
    """Forget echoes past their retention (no doubt lasts that long)."""
    await conn.execute(SQL.prune_echoes, now - retention)
