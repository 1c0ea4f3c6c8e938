"""The persisted send queue: typed calls to the named statements of ``sql/queue.sql``.

Every call takes a connection (the caller owns the transaction) and the current time; each is a
single set-based statement over arrays, so a batch of a thousand messages is one round trip.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import orjson

from disparo_dispatcher.quiet_hours import ZonedWindow, campaign_window
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "queue.sql")

QUEUED = "queued"
SENDING = "sending"
IN_DOUBT = "in_doubt"  # the provider may have sent it; its echo decides (see in_doubt.py)
SENT = "sent"
DEAD = "dead"
CANCELLED = "cancelled"
HELD = "held"

# NOTIFY channel of a commit that queued an urgent message (a reply): the replicas' claim loops
# wake at once instead of at their next ``claim_interval_seconds``. The payload is the schema.
URGENT_QUEUED_CHANNEL = "disparo_urgent_queued"


@dataclass(slots=True)
class NewMessage:
    """A requested message made ready for the table: zone, due time and place in line decided.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, four times
    the cost of this one, and a campaign's intake makes one per message."""

    message_id: UUID
    idempotency_key: str
    contact_id: UUID | None
    phone: str
    kind: str
    body: str
    priority: int
    campaign_id: UUID | None
    conversation_id: UUID | None
    max_attempts: int
    time_zone: str
    due_at: datetime
    rank_at: datetime
    template: str | None = None  # MessageTemplate as JSON text


@dataclass(slots=True)
class ClaimedMessage:
    """A message leased to this replica for one attempt, with what the send-time rules read."""

    message_id: UUID
    phone: str
    body: str
    kind: str
    priority: int
    campaign_id: UUID | None
    contact_id: UUID | None
    conversation_id: UUID | None
    sender_id: str
    attempt: int
    max_attempts: int
    time_zone: str
    rank_at: datetime
    enqueued_at: datetime
    last_sent_at: datetime | None
    campaign_day: date | None
    campaign_sent_on_day: int
    opted_out: bool
    campaign_status: str | None
    campaign_max_per_day: int | None
    campaign_window: ZonedWindow | None = None
    # The Cloud API's rules (``cloud_rules``): the message's template, when its doctor last wrote
    # to this sender, the template's status in the registry, the 131049 put-offs so far.
    template: dict | None = None
    last_inbound_at: datetime | None = None
    template_status: str | None = None
    marketing_limit_retries: int = 0
    as_template: bool = False  # decided at claim: goes out as the template, not the text
    sender_quality: str | None = None  # GREEN / YELLOW / RED, as Meta last rated the number
    portfolio: str | None = None  # the business portfolio whose tier a template send uses
    # The trace this message's spans descend from (``telemetry.pack_context``): its request's,
    # as stored at intake, then its send's once the send has a span. None when untraced.
    trace_context: bytes | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a claimed attempt ends when it is not a plain success (see ``settle``)."""

    message_id: UUID
    attempt: int
    state: str
    due_at: datetime | None = None
    attempt_change: int = 0  # -1 hands the attempt back: waiting is not failing
    error_code: str | None = None
    error: str | None = None
    sender_id: str | None = None
    rank_shift: timedelta = timedelta(0)
    marketing_put_off: bool = False  # a 131049 put-off: counted towards the two allowed


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: UUID
    attempt: int
    provider_message_id: str
    sent_at: datetime
    trace_context: bytes | None = None  # the send's span, kept for the statuses that follow


async def insert_messages(
    conn: asyncpg.Connection,
    messages: Sequence[NewMessage],
    requested_at: datetime,
    now: datetime,
    sendable_senders: Sequence[str],
    cumulative_weights: Sequence[int],
    trace_context: bytes | None = None,
) -> list[asyncpg.Record]:
    """Insert new messages (known ids and keys are skipped); returns the rows inserted.

    One statement takes each message's idempotency key and inserts only those whose key was
    free. ``trace_context`` is the request's (packed), the same for every message of it: one
    parameter per batch, not one per message.
    """
    if not messages:
        return []
    return await conn.fetch(
        SQL.enqueue_messages,
        [m.message_id for m in messages],
        [m.idempotency_key for m in messages],
        [m.contact_id for m in messages],
        [m.phone for m in messages],
        [m.kind for m in messages],
        [m.body for m in messages],
        [m.priority for m in messages],
        [m.campaign_id for m in messages],
        [m.conversation_id for m in messages],
        [m.max_attempts for m in messages],
        [m.time_zone for m in messages],
        [m.due_at for m in messages],
        [m.rank_at for m in messages],
        requested_at,
        now,
        list(sendable_senders),
        list(cumulative_weights),
        [m.template for m in messages],
        trace_context,
    )


async def announce_urgent(conn: asyncpg.Connection) -> None:
    """Wake every replica's claim loop when the caller's transaction commits."""
    await conn.execute("SELECT pg_notify($1, current_schema())", URGENT_QUEUED_CHANNEL)


async def queue_head_rank(conn: asyncpg.Connection, priority: int) -> datetime | None:
    return await conn.fetchval(SQL.queue_head_rank, priority)


async def reserve_campaign_ranks(
    conn: asyncpg.Connection,
    counts: dict[UUID, int],
    heads: dict[UUID, datetime],
    step: timedelta,
) -> dict[UUID, datetime]:
    """First virtual time of each campaign's next ``count`` messages
    (consecutive, ``step`` apart).
    """
    if not counts:
        return {}
    ids = list(counts)
    await conn.execute(SQL.ensure_campaigns, ids)
    rows = await conn.fetch(
        SQL.reserve_campaign_ranks, ids, [counts[i] for i in ids], [heads[i] for i in ids], step
    )
    return {row["campaign_id"]: row["first_rank_at"] for row in rows}


async def claim(
    conn: asyncpg.Connection,
    rooms: dict[str, int],
    now: datetime,
    owner: str,
    lease_until: datetime,
) -> list[ClaimedMessage]:
    """Lease up to ``rooms[sender]`` due messages per sender, most urgent first."""
    if not rooms:
        return []
    rows = await conn.fetch(
        SQL.claim_due_messages, list(rooms), list(rooms.values()), now, owner, lease_until
    )
    return [
        ClaimedMessage(
            message_id=r["message_id"],
            phone=r["phone"],
            body=r["body"],
            kind=r["kind"],
            priority=r["priority"],
            campaign_id=r["campaign_id"],
            contact_id=r["contact_id"],
            conversation_id=r["conversation_id"],
            sender_id=r["sender_id"],
            attempt=r["attempt"],
            max_attempts=r["max_attempts"],
            time_zone=r["time_zone"],
            rank_at=r["rank_at"],
            enqueued_at=r["enqueued_at"],
            last_sent_at=r["last_sent_at"],
            campaign_day=r["campaign_day"],
            campaign_sent_on_day=r["campaign_sent_on_day"] or 0,
            opted_out=r["opted_out_at"] is not None,
            campaign_status=r["campaign_status"],
            campaign_max_per_day=r["max_per_day"],
            campaign_window=_campaign_window(r),
            template=None if r["template"] is None else orjson.loads(r["template"]),
            last_inbound_at=r["last_inbound_at"],
            template_status=r["template_status"],
            marketing_limit_retries=r["marketing_limit_retries"],
            sender_quality=r["sender_quality"],
            portfolio=r["portfolio"],
            trace_context=r["trace_context"],
        )
        for r in rows
    ]


def _campaign_window(row: asyncpg.Record) -> ZonedWindow | None:
    if row["window_zone"] is None:
        return None
    return campaign_window(
        row["window_start_hour"],
        row["window_end_hour"],
        tuple(row["window_weekdays"]),
        row["window_zone"],
    )


async def reserve_campaign_quota(
    conn: asyncpg.Connection, wanted: dict[UUID, int], day: date
) -> dict[UUID, int]:
    """Sends granted today per capped campaign (uncapped campaigns are absent: no limit)."""
    if not wanted:
        return {}
    rows = await conn.fetch(SQL.reserve_campaign_quota, list(wanted), list(wanted.values()), day)
    return {row["campaign_id"]: row["granted"] for row in rows}


async def mark_sent(conn: asyncpg.Connection, sent: Sequence[SentMessage]) -> set[UUID]:
    """Record accepted sends; returns the ids whose attempt was still current (fenced)."""
    if not sent:
        return set()
    rows = await conn.fetch(
        SQL.mark_sent,
        [s.message_id for s in sent],
        [s.attempt for s in sent],
        [s.provider_message_id for s in sent],
        [s.sent_at for s in sent],
        [s.trace_context for s in sent],
    )
    return {row["message_id"] for row in rows}


async def record_recipient_sends(
    conn: asyncpg.Connection,
    phones: Sequence[str],
    sender_ids: Sequence[str],
    sent_at: Sequence[datetime],
    campaign_sends: Sequence[int],
    day: date,
) -> None:
    if not phones:
        return
    await conn.execute(
        SQL.record_recipient_sends,
        list(phones),
        list(sender_ids),
        list(sent_at),
        list(campaign_sends),
        day,
    )


async def settle(
    conn: asyncpg.Connection, settlements: Sequence[Settlement], now: datetime
) -> set[UUID]:
    """Apply settlements; returns the ids whose attempt was still current (fenced)."""
    if not settlements:
        return set()
    rows = await conn.fetch(
        SQL.settle_messages,
        [s.message_id for s in settlements],
        [s.attempt for s in settlements],
        [s.state for s in settlements],
        [s.due_at for s in settlements],
        [s.attempt_change for s in settlements],
        [s.error_code for s in settlements],
        [s.error for s in settlements],
        [s.sender_id for s in settlements],
        [s.rank_shift for s in settlements],
        now,
        [s.marketing_put_off for s in settlements],
    )
    return {row["message_id"] for row in rows}


async def reclaim_expired_leases(
    conn: asyncpg.Connection,
    sender_ids: Sequence[str],
    now: datetime,
    retry: bool,
    in_doubt_senders: Sequence[str] = (),
    held: Sequence[UUID] = (),
) -> list[asyncpg.Record]:
    """Take back what a dead replica left 'sending' on ``sender_ids``; returns the rows.

    Those on ``in_doubt_senders`` (their provider echoes every send) become 'in_doubt'; the rest
    are queued again when ``retry`` (their attempt spent) or dead. ``held`` are the caller's own
    messages (buffered, in flight, awaiting flush): an overloaded replica whose leases ran out
    must not take its own sends back, or it would send them a second time.
    """
    if not sender_ids:
        return []
    return await conn.fetch(
        SQL.reclaim_expired_leases,
        list(sender_ids),
        now,
        list(in_doubt_senders),
        retry,
        list(held),
    )


async def renew_message_leases(
    conn: asyncpg.Connection, message_ids: Sequence[UUID], owner: str, lease_until: datetime
) -> set[UUID]:
    """Extend ``owner``'s leases on messages still 'sending'; returns the ids renewed."""
    if not message_ids:
        return set()
    rows = await conn.fetch(SQL.renew_message_leases, list(message_ids), owner, lease_until)
    return {row["message_id"] for row in rows}


async def reassign_orphans(
    conn: asyncpg.Connection,
    sendable_senders: Sequence[str],
    cumulative_weights: Sequence[int],
    unsendable_senders: Sequence[str],
    limit: int,
) -> int:
    """Move up to ``limit`` queued messages off senders that cannot send; returns how many."""
    if not sendable_senders:
        return 0
    rows = await conn.fetch(
        SQL.reassign_orphans,
        list(sendable_senders),
        list(cumulative_weights),
        list(unsendable_senders),
        limit,
    )
    return len(rows)


async def count_sent_since(
    conn: asyncpg.Connection, sender_ids: Sequence[str], since: datetime
) -> dict[str, int]:
    rows = await conn.fetch(SQL.count_sent_since, list(sender_ids), since)
    return {row["sender_id"]: row["sent"] for row in rows}


async def queue_reading(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Pending and dead messages by state and priority, each group with the age of its oldest
    queued message that fell due (None when it has none): ``QueueReading.from_rows`` reads it."""
    return await conn.fetch(SQL.queue_reading, now)


async def dead_by_code(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(SQL.dead_by_code)


async def sender_states(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(SQL.sender_states)


async def cloud_number_ratings(conn: asyncpg.Connection, default_tier: str) -> list[asyncpg.Record]:
    """Each Cloud number's quality and its portfolio's tier (``default_tier`` until Meta names
    one), for the gauges."""
    return await conn.fetch(SQL.cloud_number_ratings, default_tier)
