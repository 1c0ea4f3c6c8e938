"""Records a parsed webhook in one transaction: facts told once, inbound replies once,
the rest parked.

Idempotency. Providers repeat webhooks (Meta retries until it gets a 200, for up to 7 days) and
reorder them (a ``read`` can overtake its ``delivered``). Each status is turned into the *facts*
it implies about our message — ``delivered`` → {delivered}; ``read`` → {delivered, read}
(whoever read it had it delivered); ``failed`` → {failed} — and each fact is inserted into
``message_status_facts`` keyed by (message_id, fact). An event is written to the outbox only for
the rows this transaction inserted, in the same transaction, so:

- a repeated webhook inserts nothing and tells nothing;
- ``read`` before ``delivered`` tells ``message.delivered`` (at the read's time) and
  ``message.read``; the late ``delivered`` then tells nothing;
- two replicas handling copies of one webhook at once serialise on the primary key: one tells.

A ``failed`` status whose code means the recipient opted out (Cloud 131050, which Meta mostly
reports in the status webhook, not in the send's answer) also records the opt-out, cancels the
phone's pending messages and tells ``contact.opted_out``, exactly as the send path does for a
synchronous 131050, and only when the failure fact is new.

Inbound messages are told once per (provider, provider message id) through ``inbound_receipts``;
the first telling also cancels the follow-ups still pending for that phone, in the same
transaction (``automatic_messages.stop_for_replies``).

Sent-echoes (Cloud ``sent`` statuses, Evolution ``send.message``) tell nothing by themselves:
they are kept in ``provider_echoes``, one row per provider id, with one set-based insert per
webhook, for ``in_doubt`` to settle doubtful sends by (see ``echo_matching``).

Unknown messages. A status can arrive before our send's commit stored the provider's id (the
provider answers the send, posts ``delivered`` within a fraction of a second, and our write of
the result is batched). Such statuses are *parked* in ``pending_statuses`` and the webhook is
answered 200; ``pending.resolve_pending_statuses`` tells them once the message appears, and
drops them after a TTL (a status for a send made outside disparo never resolves). Answering
5xx instead would rely on the provider retrying: Meta does, but Evolution and the simulator post
each webhook once, so the status would be lost. Cloud statuses carry our message id in
``biz_opaque_callback_data`` and resolve at once even before the provider id is stored.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_dispatcher import metrics, queue, templates
from disparo_dispatcher.automatic_messages import stop_for_replies
from disparo_dispatcher.echo_matching import RecordedEcho
from disparo_dispatcher.providers.base import FailureClass
from disparo_dispatcher.providers.classify import graph_code_class
from disparo_dispatcher.webhooks.status_traces import trace_statuses
from disparo_dispatcher.webhooks.updates import (
    DeliveryStatus,
    InboundText,
    NumberHealth,
    StatusUpdate,
    WebhookBatch,
)
from disparo_shared.events import limits
from disparo_shared.events.base import Event
from disparo_shared.events.contacts import ContactOptedOut
from disparo_shared.events.messages import (
    MessageDelivered,
    MessageFailed,
    MessageRead,
    MessageReceived,
)
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

QUERIES = load_queries(Path(__file__).parents[1] / "sql" / "webhooks.sql")

FACTS_OF: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.DELIVERED: (DeliveryStatus.DELIVERED,),
    DeliveryStatus.READ: (DeliveryStatus.DELIVERED, DeliveryStatus.READ),
    DeliveryStatus.FAILED: (DeliveryStatus.FAILED,),
}
FACT_ORDER = {DeliveryStatus.DELIVERED: 0, DeliveryStatus.READ: 1, DeliveryStatus.FAILED: 2}


@dataclass(frozen=True)
class KnownMessage:
    """What a status event needs from our message row."""

    message_id: UUID
    campaign_id: UUID | None
    contact_id: UUID | None
    phone: str
    attempt: int
    trace_context: bytes | None = None  # its send's span (or request's), see status_traces


@dataclass(frozen=True)
class RecordedWebhook:
    """What one webhook came to: events written to the outbox, statuses parked for later."""

    told: int
    parked: int


async def find_messages(
    conn: asyncpg.Connection, statuses: list[StatusUpdate]
) -> tuple[list[tuple[KnownMessage, StatusUpdate]], list[StatusUpdate]]:
    """Pair each status with our message (by echoed message id, else provider id), or leave it."""
    rows = await conn.fetch(
        QUERIES.find_messages_for_statuses,
        list({s.message_id for s in statuses if s.message_id is not None}),
        list({s.provider_message_id for s in statuses}),
    )
    by_id: dict[UUID, KnownMessage] = {}
    by_provider_id: dict[str, KnownMessage] = {}
    for row in rows:
        known = KnownMessage(
            row["message_id"],
            row["campaign_id"],
            row["contact_id"],
            row["phone"],
            row["attempt"],
            row["trace_context"],
        )
        by_id[known.message_id] = known
        if row["provider_message_id"] is not None:
            by_provider_id[row["provider_message_id"]] = known
    resolved, unresolved = [], []
    for status in statuses:
        known = (by_id.get(status.message_id) if status.message_id else None) or by_provider_id.get(
            status.provider_message_id
        )
        if known is None:
            unresolved.append(status)
        else:
            resolved.append((known, status))
    return resolved, unresolved


def _fact_event(
    fact: DeliveryStatus, known: KnownMessage, status: StatusUpdate, now: datetime
) -> Event:
    """The event telling ``fact``; a delivered implied by a read carries the read's time."""
    if fact is DeliveryStatus.DELIVERED:
        return MessageDelivered(
            message_id=known.message_id,
            campaign_id=known.campaign_id,
            provider_message_id=status.provider_message_id,
            at=status.at,
            occurred_at=now,
        )
    if fact is DeliveryStatus.READ:
        return MessageRead(
            message_id=known.message_id,
            campaign_id=known.campaign_id,
            provider_message_id=status.provider_message_id,
            at=status.at,
            occurred_at=now,
        )
    return MessageFailed(
        message_id=known.message_id,
        campaign_id=known.campaign_id,
        attempt=known.attempt,
        error_code=status.error_code or "unknown",
        error=status.error or "the provider reported the message as failed",
        retryable=False,
        final=True,
        occurred_at=now,
    )


async def tell_status_facts(
    conn: asyncpg.Connection, resolved: list[tuple[KnownMessage, StatusUpdate]], now: datetime
) -> tuple[list[Event], dict[UUID, bytes]]:
    """Insert the facts these statuses imply; return the events of the facts not told before,
    and the trace context each of them carries (``status_traces``).

    Within one batch a fact implied twice keeps its earliest time (a ``delivered`` at 10:00:01
    and a ``read`` at 10:00:05 tell delivered at 10:00:01).
    """
    proposals: dict[tuple[UUID, DeliveryStatus], tuple[KnownMessage, StatusUpdate]] = {}
    for known, status in resolved:
        for fact in FACTS_OF[status.status]:
            key = (known.message_id, fact)
            if key not in proposals or status.at < proposals[key][1].at:
                proposals[key] = (known, status)
    if not proposals:
        return [], {}
    # Rows are inserted in key order, so concurrent webhooks touching the same messages wait for
    # each other instead of deadlocking; events are told in the order things happened.
    keys = sorted(proposals, key=lambda k: (k[0], FACT_ORDER[k[1]]))
    told = await conn.fetch(
        QUERIES.record_status_facts,
        [message_id for message_id, _ in keys],
        [fact.value for _, fact in keys],
        [proposals[k][1].provider_message_id for k in keys],
        [proposals[k][1].at for k in keys],
    )
    new = {(row["message_id"], DeliveryStatus(row["fact"])) for row in told}
    in_time_order = sorted(new, key=lambda k: (proposals[k][1].at, FACT_ORDER[k[1]]))
    told = [(fact, *proposals[(message_id, fact)]) for message_id, fact in in_time_order]
    events = [_fact_event(fact, known, status, now) for fact, known, status in told]
    traced = trace_statuses(
        [
            (event, known.message_id, known.trace_context, fact, status.provider, status.at)
            for event, (fact, known, status) in zip(events, told, strict=True)
        ]
    )
    opted_out = {
        known.phone: (known, status)
        for (message_id, fact), (known, status) in proposals.items()
        if (message_id, fact) in new
        and fact is DeliveryStatus.FAILED
        and graph_code_class(status.error_code) is FailureClass.OPTED_OUT
    }
    return events + await _record_opt_outs(conn, opted_out, now), traced


async def _record_opt_outs(
    conn: asyncpg.Connection, opted_out: dict[str, tuple[KnownMessage, StatusUpdate]], now: datetime
) -> list[Event]:
    """Remember provider-reported opt-outs and drop those phones' pending messages."""
    if not opted_out:
        return []
    phones = sorted(opted_out)
    events: list[Event] = []
    for phone in phones:
        known, status = opted_out[phone]
        reason = f"provider_{status.error_code}"
        await conn.execute(queue.SQL.record_opt_outs, [phone], now, reason)
        events.append(
            ContactOptedOut(
                contact_id=known.contact_id, phone=phone, reason=reason, occurred_at=now
            )
        )
    await conn.execute(queue.SQL.cancel_pending_for_phones, phones, now)
    return events


async def park_statuses(
    conn: asyncpg.Connection, statuses: list[StatusUpdate], now: datetime
) -> None:
    if not statuses:
        return
    statuses = sorted(statuses, key=lambda s: (s.provider, s.provider_message_id, s.status.value))
    await conn.execute(
        QUERIES.park_pending_statuses,
        [s.provider for s in statuses],
        [s.provider_message_id for s in statuses],
        [s.status.value for s in statuses],
        [s.address for s in statuses],
        [s.at for s in statuses],
        [s.error_code for s in statuses],
        [s.error for s in statuses],
        [now] * len(statuses),
    )


async def tell_inbound(
    conn: asyncpg.Connection, inbound: list[InboundText], now: datetime
) -> list[Event]:
    """``message.received`` for each inbound message not seen before, sender resolved to our id;
    the follow-ups pending for those phones are cancelled (``automatic_messages``)."""
    by_key = {(m.provider, m.provider_message_id): m for m in inbound}
    unique = [by_key[key] for key in sorted(by_key)]  # a stable lock order, as for facts
    new_rows = await conn.fetch(
        QUERIES.record_inbound_receipts,
        [m.provider for m in unique],
        [m.provider_message_id for m in unique],
        now,
    )
    new = {(row["provider"], row["provider_message_id"]) for row in new_rows}
    fresh = [m for m in unique if (m.provider, m.provider_message_id) in new]
    if not fresh:
        return []
    sender_rows = await conn.fetch(
        QUERIES.find_senders_by_address,
        [m.provider for m in fresh],
        [m.address for m in fresh],
    )
    senders = {(row["provider"], row["address"]): row["sender_id"] for row in sender_rows}
    await templates.open_windows(
        conn,
        [
            (senders[(m.provider, m.address)], m.phone, m.at)
            for m in fresh
            if (m.provider, m.address) in senders
        ],
        now,
    )
    stopped = await stop_for_replies(conn, [m.phone for m in fresh], now)
    return stopped + [
        MessageReceived(
            phone=m.phone,
            sender=senders.get((m.provider, m.address), m.address),
            # a doctor's reply is never refused: past WhatsApp's own limit it is cut, not lost
            body=m.body[: limits.INBOUND_BODY],
            provider_message_id=m.provider_message_id,
            at=m.at,
            occurred_at=now,
        )
        for m in fresh
    ]


async def record_echoes(
    conn: asyncpg.Connection, echoes: list[RecordedEcho], now: datetime
) -> None:
    """Keep the provider's sent-echoes (in key order, so concurrent webhooks never deadlock)."""
    if not echoes:
        return
    unique = sorted(
        {(e.provider, e.provider_message_id): e for e in echoes}.values(),
        key=lambda e: (e.provider, e.provider_message_id),
    )
    await conn.execute(
        QUERIES.record_send_echoes,
        [e.provider for e in unique],
        [e.provider_message_id for e in unique],
        [e.address for e in unique],
        [e.message_id for e in unique],
        [e.recipient for e in unique],
        [e.body_sha256 for e in unique],
        [e.at for e in unique],
        now,
    )


async def record_webhook(
    conn: asyncpg.Connection, batch: WebhookBatch, now: datetime
) -> RecordedWebhook:
    """Tell what ``batch`` says that was not told before, park what cannot be told yet."""
    async with conn.transaction():
        events: list[Event] = []
        traced: dict[UUID, bytes] = {}
        parked: list[StatusUpdate] = []
        if batch.statuses:
            resolved, parked = await find_messages(conn, batch.statuses)
            told, traced = await tell_status_facts(conn, resolved, now)
            events += told
            await park_statuses(conn, parked, now)
        if batch.inbound:
            events += await tell_inbound(conn, batch.inbound, now)
        for change in batch.template_changes:
            await templates.set_status(
                conn,
                change.waba_id,
                change.name,
                change.language,
                change.status,
                now,
                template_id=change.template_id,
                category=change.category,
                reason=change.reason,
            )
        for health in batch.health:
            await record_health(conn, health, now)
        await record_echoes(conn, batch.echoes, now)
        await add_events(conn, events, traced)
    return RecordedWebhook(told=len(events), parked=len(parked))


async def record_health(conn: asyncpg.Connection, health: NumberHealth, now: datetime) -> None:
    """A number's quality rating and its portfolio's tier, as Meta last said."""
    if health.quality is not None and health.display_phone_number is not None:
        await conn.execute(
            templates.SQL.set_number_quality,
            health.waba_id,
            health.display_phone_number,
            health.quality,
            now,
        )
    if health.tier is not None:
        await conn.execute(templates.SQL.set_portfolio_tier, health.waba_id, health.tier, now)


async def receive_webhook(
    pool: asyncpg.Pool, batch: WebhookBatch, now: datetime
) -> RecordedWebhook:
    """The route's one call: record ``batch`` on a pooled connection (nothing to do, no query).

    A post carrying only sent-echoes (Evolution posts one ``send.message`` per send) is one
    statement, atomic by itself: no transaction round trips around it.
    """
    if not batch:
        return RecordedWebhook(told=0, parked=0)
    async with pool.acquire() as conn:
        if not (batch.statuses or batch.inbound or batch.template_changes or batch.health):
            await record_echoes(conn, batch.echoes, now)
            return RecordedWebhook(told=0, parked=0)
        recorded = await record_webhook(conn, batch, now)
    observe_webhook_lag(batch, now)
    return recorded


def observe_webhook_lag(batch: WebhookBatch, now: datetime) -> None:
    """How late each provider's news reached us (provider event time → recorded)."""
    for kind, updates in (("status", batch.statuses), ("inbound", batch.inbound)):
        for update in updates:
            lag = max(0.0, (now - update.at).total_seconds())
            metrics.WEBHOOK_LAG.labels(update.provider, kind).observe(lag)
            metrics.WEBHOOK_LAST_RECEIVED.labels(update.provider).set(now.timestamp())
