"""What the dispatcher does with each event and admin command, as plain functions.

Each takes its dependencies (pool, clock value, placement, settings) as arguments and does its
work in one transaction with the inbox record and the events it publishes, so a redelivery or a
crash at any point changes nothing twice. Subscribers and HTTP routes only parse and call these.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from opentelemetry import trace

from disparo_dispatcher import archive, in_doubt, queue
from disparo_dispatcher.automatic_messages import stop_for_opt_outs
from disparo_dispatcher.metrics import REQUESTS_DROPPED
from disparo_dispatcher.queue import CANCELLED, NewMessage
from disparo_dispatcher.quiet_hours import next_send_time, recipient_time_zone
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.worker import send_window
from disparo_shared.events import (
    CampaignCancelled,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
    ContactOptedIn,
    ContactOptedOut,
    Event,
    MessageFailed,
    MessagesEnqueued,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
    SerializedEvent,
)
from disparo_shared.inbox import first_delivery
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events
from disparo_shared.telemetry import pack_context

log = get_logger(__name__)

REQUESTS_CONSUMER = "dispatcher.messages_requested"
ENQUEUED_PER_EVENT = 1000
KEY_TAKEN = "idempotency_key_taken"
CAMPAIGNS_CONSUMER = "dispatcher.campaign_controls"
CONTACTS_CONSUMER = "dispatcher.contact_consent"


async def enqueue_requested(
    pool: asyncpg.Pool,
    event: MessagesRequested,
    now: datetime,
    placement: PlacementCache,
    settings: DispatcherSettings,
) -> int:
    """Persist a ``messages.requested`` batch and publish ``message.enqueued``; returns rows added.

    Each message is due at ``not_before`` (or now), pushed to the next send window unless its
    kind is exempt from quiet hours. Its place in line is its due time, except for campaign
    messages, which take consecutive virtual times from their campaign's lane starting at the
    head of the line (see ``queue.sql`` ``reserve_campaign_ranks``), so two campaigns of one
    priority are sent side by side.
    """
    unique = list({m.message_id: m for m in event.messages}.values())
    step = timedelta(milliseconds=settings.campaign_rank_step_ms)
    first_ranks = await _reserve_lanes(pool, unique, now, step)
    rows = ready_rows(unique, now, first_ranks, step, settings)
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, REQUESTS_CONSUMER, event.event_id):
            return 0
        where = await placement.current(conn, now)
        inserted = await queue.insert_messages(
            conn,
            rows,
            event.occurred_at,
            now,
            where.sender_ids,
            where.cumulative_weights,
            # The span handling this event (a child of the request's, from the event's headers).
            pack_context(trace.get_current_span().get_span_context()),
        )
        if _urgent_queued(rows, inserted, settings.urgent_priority):
            await queue.announce_urgent(conn)
        events: list[Event | SerializedEvent] = [*_enqueued(inserted)]
        events += [_not_sent(row) for row in inserted if row["state"] == CANCELLED]
        if len(inserted) < len(rows):
            events += await _key_taken(conn, rows, inserted)
        await add_events(conn, events)
        return len(inserted)


def ready_rows(
    messages: list[RequestedMessage],
    now: datetime,
    first_ranks: dict[UUID, datetime],
    step: timedelta,
    settings: DispatcherSettings,
) -> list[NewMessage]:
    """Each message with its zone, due time and place in line (``enqueue_requested``).

    Runs once per message of every campaign, so it keeps to cheap operations: a campaign's
    next place is read and advanced in one dict, and window openings are shared by the
    messages due at the same time in the same zone."""
    window = send_window(settings)
    exempt = set(settings.quiet_hours_exempt_kinds)
    next_rank = dict(first_ranks)
    opening: dict[tuple[datetime, str], datetime] = {}  # a campaign's batch shares a few
    rows: list[NewMessage] = []
    for m in messages:
        time_zone = recipient_time_zone(m.phone, settings.time_zone)
        due_at = max(m.not_before or now, now)
        if m.kind not in exempt:
            key = (due_at, time_zone)
            if key not in opening:
                opening[key] = next_send_time(due_at, time_zone, window)
            due_at = opening[key]
        rank_at = due_at
        if m.campaign_id is not None:
            rank_at = next_rank[m.campaign_id]
            next_rank[m.campaign_id] = rank_at + step
            if due_at > now:  # scheduled or outside the window: keep its lane order, from then
                rank_at = rank_at + (due_at - now)
        rows.append(
            NewMessage(
                message_id=m.message_id,
                idempotency_key=m.idempotency_key,
                contact_id=m.contact_id,
                phone=m.phone,
                kind=m.kind,  # a StrEnum is its value; ``.value`` is a Python-level property
                body=m.body,
                priority=m.priority,
                campaign_id=m.campaign_id,
                conversation_id=m.conversation_id,
                max_attempts=m.max_attempts,
                time_zone=time_zone,
                due_at=due_at,
                rank_at=rank_at,
                template=None if m.template is None else m.template.model_dump_json(),
            )
        )
    return rows


def _urgent_queued(rows: list[NewMessage], inserted: list[asyncpg.Record], urgent: int) -> bool:
    """Whether an urgent message is now queued: its claim should not wait for the next tick."""
    urgent_ids = {m.message_id for m in rows if m.priority >= urgent}
    return any(r["message_id"] in urgent_ids and r["state"] == queue.QUEUED for r in inserted)


async def _reserve_lanes(
    pool: asyncpg.Pool, messages: list[RequestedMessage], now: datetime, step: timedelta
) -> dict[UUID, datetime]:
    """The first virtual time of each campaign's share of ``messages`` in its lane.

    Reserved in a short transaction of its own: holding the campaign's row until the batch
    commits would persist a campaign's batches one at a time. A batch that is redelivered, or
    rolled back, reserves again; its first reservation stays an unused stretch of the lane.
    """
    counts: dict[UUID, int] = defaultdict(int)
    priority: dict[UUID, int] = {}
    for m in messages:
        if m.campaign_id is not None:
            counts[m.campaign_id] += 1
            priority.setdefault(m.campaign_id, m.priority)
    if not counts:
        return {}
    async with pool.acquire() as conn, conn.transaction():
        heads = {p: (await queue.queue_head_rank(conn, p)) or now for p in set(priority.values())}
        return await queue.reserve_campaign_ranks(
            conn, dict(counts), {cid: heads[p] for cid, p in priority.items()}, step
        )


async def _key_taken(
    conn: asyncpg.Connection, rows: list[NewMessage], inserted: list[asyncpg.Record]
) -> list[MessageFailed]:
    """Messages skipped because another message holds their idempotency key end as failed.

    A known message id is a redelivery and changes nothing; a new id whose key is taken (a
    client reusing a key after the API forgot it, a colliding key) was accepted by the API
    with a 202 and must not vanish: it fails, final, where reports and alerts see it.
    """
    skipped = {m.message_id for m in rows} - {r["message_id"] for r in inserted}
    found = await conn.fetch(queue.SQL.existing_message_ids, list(skipped))
    known = {r["message_id"] for r in found}
    taken = [m for m in rows if m.message_id in skipped - known]
    if taken:
        REQUESTS_DROPPED.labels(KEY_TAKEN).inc(len(taken))
        log.warning("requested messages dropped: idempotency key taken", messages=len(taken))
    return [
        MessageFailed(
            message_id=m.message_id,
            campaign_id=m.campaign_id,
            attempt=0,
            error_code=KEY_TAKEN,
            error="not sent: another message already holds its idempotency key",
            retryable=False,
            final=True,
        )
        for m in taken
    ]


def _not_sent(row: asyncpg.Record) -> MessageFailed:
    """A message that arrived for an opted-out contact or a cancelled campaign ends at once."""
    return MessageFailed(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        attempt=0,
        error_code=row["last_error_code"],
        error="not sent: " + row["last_error_code"].replace("_", " "),
        retryable=False,
        final=True,
    )


async def _campaign_control(
    pool: asyncpg.Pool, event: Event, consumer: str, status: str, statement: str, *args: object
) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, consumer, event.event_id):
            return False
        recorded = await conn.fetchval(queue.SQL.set_campaign_status, event.campaign_id, status)
        if recorded is None:  # cancelled already: a late pause or resume changes nothing
            return False
        await conn.execute(statement, event.campaign_id, *args)
        return True


async def configure_campaign(pool: asyncpg.Pool, event: CampaignStarted) -> bool:
    """Keep a started campaign's daily cap and send window with its controls (held at send)."""
    window = event.send_window
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, CAMPAIGNS_CONSUMER + ".started", event.event_id):
            return False
        await conn.execute(
            queue.SQL.configure_campaign,
            event.campaign_id,
            event.max_per_day,
            window.start_hour if window else None,
            window.end_hour if window else None,
            window.weekdays if window else None,
            window.time_zone if window else None,
        )
        return True


async def pause_campaign(pool: asyncpg.Pool, event: CampaignPaused) -> bool:
    """Hold the campaign's queued messages; messages already being sent finish."""
    return await _campaign_control(
        pool, event, CAMPAIGNS_CONSUMER + ".paused", "paused", queue.SQL.hold_campaign
    )


async def resume_campaign(pool: asyncpg.Pool, event: CampaignResumed) -> bool:
    """Put the campaign's held messages back in line, in their old places."""
    return await _campaign_control(
        pool, event, CAMPAIGNS_CONSUMER + ".resumed", "running", queue.SQL.release_campaign
    )


async def cancel_campaign(pool: asyncpg.Pool, event: CampaignCancelled, now: datetime) -> bool:
    """End the campaign's pending messages (no per-message event: campaign.cancelled says it)."""
    return await _campaign_control(
        pool,
        event,
        CAMPAIGNS_CONSUMER + ".cancelled",
        "cancelled",
        queue.SQL.cancel_campaign_messages,
        now,
    )


async def opt_out(pool: asyncpg.Pool, event: ContactOptedOut, now: datetime) -> int:
    """Remember the opt-out and drop the phone's pending messages; returns how many dropped.

    Messages already claimed are stopped by the send-time check (``admission``); follow-ups are
    told cancelled (``message.cancelled``), claimed ones included (``automatic_messages``).
    """
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, CONTACTS_CONSUMER + ".opted_out", event.event_id):
            return 0
        await conn.execute(
            queue.SQL.record_opt_out,
            event.phone,
            now,
            event.reason,
            event.contact_id,
            event.occurred_at,
        )
        followups = await stop_for_opt_outs(conn, [event.phone], now)
        await add_events(conn, followups)
        dropped = await conn.fetch(queue.SQL.cancel_pending_for_phones, [event.phone], now)
        return len(dropped) + len(followups)


async def opt_in(pool: asyncpg.Pool, event: ContactOptedIn) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, CONTACTS_CONSUMER + ".opted_in", event.event_id):
            await conn.execute(queue.SQL.record_opt_in, event.phone)


async def requeue_dead_message(
    pool: asyncpg.Pool, message_id: UUID, now: datetime, extra_attempts: int
) -> asyncpg.Record | None:
    """Put one dead message back in line with ``extra_attempts`` more tries; None if not dead.
    An archived one comes back to the hot table first."""
    async with pool.acquire() as conn, conn.transaction():
        await archive.wait_turn(conn)
        await conn.execute(queue.SQL.restore_dead_message, message_id)
        row = await conn.fetchrow(queue.SQL.requeue_dead_message, message_id, now, extra_attempts)
        if row is not None:
            await add_events(conn, _enqueued([row]))
        return row


async def requeue_dead_for_campaign(
    pool: asyncpg.Pool, campaign_id: UUID, now: datetime, extra_attempts: int
) -> int:
    """Put every dead message of a campaign back in line, archived ones too; returns how
    many."""
    async with pool.acquire() as conn, conn.transaction():
        await archive.wait_turn(conn)
        await conn.execute(queue.SQL.restore_dead_for_campaign, campaign_id)
        rows = await conn.fetch(
            queue.SQL.requeue_dead_for_campaign, campaign_id, now, extra_attempts
        )
        await add_events(conn, _enqueued(rows))
        return len(rows)


async def requeue_held_in_doubt(
    pool: asyncpg.Pool,
    campaign_id: UUID | None,
    now: datetime,
    message_ids: list[UUID] | None = None,
) -> int:
    """Put the sends held in doubt (of one campaign, or all; only ``message_ids`` when given)
    back in line; returns how many.

    A person looked (the doctor's chat, the provider's panel) and chose to send again: each
    gets one more attempt. ``message.enqueued`` tells reporting they are pending again.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(in_doubt.SQL.requeue_held_in_doubt, campaign_id, now, message_ids)
        if rows:
            await add_events(conn, _enqueued(rows))
            await in_doubt.record_settlements(conn, [(row, "requeued") for row in rows], now)
        return len(rows)


async def settle_in_doubt_as_sent(
    pool: asyncpg.Pool, message_id: UUID, now: datetime, provider_message_id: str | None = None
) -> asyncpg.Record | None:
    """A person checked (the doctor's chat, the provider's panel) that a send in doubt went
    out: it becomes sent, told as ``message.sent`` so reporting counts it, and kept as the
    ``person`` verdict. Returns the message, or ``None`` when it is not in doubt.

    Sent at the latest moment it may have gone (when its doubt began); its provider id, when
    the person has none, is empty in ``message.sent`` and null in the queue.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            in_doubt.SQL.settle_in_doubt_by_person, message_id, provider_message_id, now
        )
        if row is None:
            return None
        await add_events(
            conn,
            [
                MessagesSent(
                    messages=[in_doubt.sent_message(row, provider_message_id or "", row["sent_at"])]
                )
            ],
        )
        await in_doubt.record_settlements(conn, [(row, "person")], now)
        return row


def _enqueued(rows: list[asyncpg.Record]) -> list[SerializedEvent]:
    """One ``message.enqueued`` per ``ENQUEUED_PER_EVENT`` rows (none for none).

    An enqueued message is at most ~250 bytes of JSON, so 1,000 make ~250 KB, well under the
    event byte cap; re-queuing a campaign's 5,600 dead messages once made one 1.4 MB event that
    NATS refused, stalling the outbox behind it. Written straight from the rows just inserted:
    a model validated and dumped again took ~18% of a campaign's intake.
    """
    return [
        MessagesEnqueued.serialized(
            messages=[
                {
                    "message_id": row["message_id"],
                    "campaign_id": row["campaign_id"],
                    "kind": row["kind"],
                    "sender": row["sender_id"],
                    "not_before": row["due_at"],
                }
                for row in rows[start : start + ENQUEUED_PER_EVENT]
            ]
        )
        for start in range(0, len(rows), ENQUEUED_PER_EVENT)
    ]


async def set_campaign_max_per_day(
    pool: asyncpg.Pool, campaign_id: UUID, max_per_day: int | None
) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await conn.fetchrow(queue.SQL.set_campaign_max_per_day, campaign_id, max_per_day)
