"""The flush: write every finished attempt of the interval in one transaction.

Every ``flush_interval_seconds`` (sooner once ``flush_batch_max`` outcomes wait) one batch of
``Results`` is written with its events — sent rows, recipients' pacing, settlements and the
campaign quota they hand back, paused senders, opt-outs — so the database sees a few statements
per batch, not per message. A failed flush keeps the batch for the next one.
"""

import asyncio
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg
from opentelemetry import trace
from prometheus_client import Histogram

from disparo_dispatcher import metrics, queue, senders, templates
from disparo_dispatcher.admission import CAMPAIGN_KIND
from disparo_dispatcher.clock import Clock, local_today
from disparo_dispatcher.cloud_rules import NEEDS_TEMPLATE
from disparo_dispatcher.leasing import ORPHAN_MOVE_BATCH
from disparo_dispatcher.providers import classify
from disparo_dispatcher.providers.base import Accepted
from disparo_dispatcher.queue import (
    HELD,
    IN_DOUBT,
    QUEUED,
    ClaimedMessage,
    SentMessage,
    Settlement,
)
from disparo_dispatcher.results import Outcome, PendingSettlement, Results
from disparo_dispatcher.retry_policy import RetrySchedule, judge_rejection
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.events import (
    ContactOptedOut,
    Event,
    MessageFailed,
    MessagesSent,
    SerializedEvent,
)
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events
from disparo_shared.telemetry import unpack_context
from disparo_shared.waiting import wait_for_event

log = get_logger(__name__)
tracer = trace.get_tracer("disparo.dispatcher")

# Answers that leave unknown whether the provider took the send: no answer in time, a connection
# broken after the request went out (see providers.transport), a 2xx without the message's id.
AMBIGUOUS_CODES = frozenset({classify.TIMEOUT, classify.CONNECTION_ERROR, "malformed_response"})
FINAL_FLUSH_TRIES = 5
# Sends per ``message.sent``: a sent message is at most ~600 bytes of JSON (a provider id is at
# most 256 characters), so 1,000 stay under the event byte cap (``sizing.MAX_EVENT_BYTES``).
SENT_PER_EVENT = 1000
MAX_SEND_LINKS = 128  # OpenTelemetry's default cap on a span's links


@dataclass
class Batch:
    """One flush's results, sorted by what each needs written."""

    sent: list[SentMessage] = field(default_factory=list)
    accepted: list[Outcome] = field(default_factory=list)
    settled: list[PendingSettlement] = field(default_factory=list)
    rejected: dict[UUID, Outcome] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)  # sender id → reason
    opted_out: dict[str, ClaimedMessage] = field(default_factory=dict)  # phone → message
    closed_windows: set[tuple[str, str]] = field(default_factory=set)  # (sender id, phone)
    # (sender id, campaign id or None, template name, language) → the provider's code
    stopped_templates: dict[tuple[str, UUID | None, str, str], str] = field(default_factory=dict)


def sort_results(
    outcomes: list[Outcome],
    pending: list[PendingSettlement],
    now: datetime,
    settings: DispatcherSettings,
    retry: RetrySchedule,
    rng: random.Random,
) -> Batch:
    """Accepted calls become sent rows; a rejection becomes the settlement its verdict says
    (``retry_policy``), or a doubt when the answer was lost and the sender's echo can decide."""
    batch = Batch(settled=list(pending))
    for outcome in outcomes:
        m, result = outcome.message, outcome.result
        if isinstance(result, Accepted):
            batch.sent.append(
                SentMessage(
                    m.message_id,
                    m.attempt,
                    result.provider_message_id,
                    outcome.finished_at,
                    m.trace_context,
                )
            )
            batch.accepted.append(outcome)
            continue
        verdict = judge_rejection(
            result,
            m.attempt,
            m.max_attempts,
            now,
            retry,
            rng,
            settings.pair_spacing_seconds,
            has_template=m.template is not None,
            sent_as_template=m.as_template,
            marketing_put_offs=m.marketing_limit_retries,
        )
        batch.rejected[m.message_id] = outcome
        if result.code in AMBIGUOUS_CODES:
            # The provider may have taken it and only the answer was lost: its echo, its search
            # or the kind's policy decides (``in_doubt``); sent again, it keeps this backoff.
            doubt = Settlement(
                m.message_id,
                m.attempt,
                IN_DOUBT,
                due_at=verdict.due_at,
                error_code=result.code,
                error=result.detail[:500],
            )
            batch.settled.append(PendingSettlement(doubt, m))
            continue
        held_for_template = verdict.state == HELD
        settlement = Settlement(
            m.message_id,
            m.attempt,
            verdict.state,
            due_at=verdict.due_at,
            attempt_change=0 if verdict.costs_attempt else -1,
            error_code=NEEDS_TEMPLATE if held_for_template else result.code,
            error=(f"{result.code}: " if held_for_template else "") + result.detail[:500],
            marketing_put_off=verdict.marketing_put_off,
        )
        batch.settled.append(PendingSettlement(settlement, m, verdict.publish_failure))
        if verdict.close_window:
            batch.closed_windows.add((outcome.sender_id, m.phone))
        if verdict.stop_template and m.template is not None:
            key = (outcome.sender_id, m.campaign_id, m.template["name"], m.template["language"])
            batch.stopped_templates[key] = result.code
        if verdict.pause_sender:
            batch.paused[outcome.sender_id] = f"{result.code}: {result.detail[:200]}"
        if verdict.opted_out:
            batch.opted_out[m.phone] = m
    return batch


class Recorder:
    """Flushes a replica's ``Results`` to Postgres, a batch per transaction."""

    def __init__(
        self,
        settings: DispatcherSettings,
        placement: PlacementCache,
        results: Results,
        *,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self._settings = settings
        self._placement = placement
        self._results = results
        self._clock = clock
        self._rng = rng
        self._retry = RetrySchedule(settings.retry_base_seconds, settings.retry_max_seconds)

    async def flush_loop(self, pool: asyncpg.Pool) -> None:
        results = self._results
        while True:
            results.wake.clear()
            await wait_for_event(results.wake, self._settings.flush_interval_seconds)
            while results.waiting():
                try:
                    await self.flush(pool)
                except asyncpg.DeadlockDetectedError:
                    continue
                except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
                    log.warning("flush failed; results kept for the next try", error=str(exc))
                    await asyncio.sleep(1.0)
                    break
                if len(results.outcomes) < self._settings.flush_batch_max:
                    break

    async def flush_remaining(self, pool: asyncpg.Pool) -> None:
        """On a clean stop: flush what is left, giving up after a few batches or an error."""
        for _ in range(FINAL_FLUSH_TRIES):
            if not self._results.waiting():
                break
            try:
                await self.flush(pool)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("final flush failed", error=str(exc))
                break

    async def flush(self, pool: asyncpg.Pool) -> None:
        """Write one batch of outcomes and settlements, with their events, in one transaction."""
        limit = self._settings.flush_batch_max
        outcomes, pending = self._results.outcomes[:limit], self._results.pending[:limit]
        now = self._clock()
        today = local_today(now, self._settings.time_zone)
        batch = sort_results(outcomes, pending, now, self._settings, self._retry, self._rng)

        links = send_links(batch.accepted)
        with tracer.start_as_current_span("dispatcher.record", links=links) as span:
            span.set_attribute("dispatcher.outcomes", len(outcomes))
            async with pool.acquire() as conn, conn.transaction():
                confirmed_sent, events, traced = await record_sent(
                    conn, batch.sent, batch.accepted, today
                )
                confirmed_settled, failed = await record_settlements(
                    conn, batch.settled, now, today
                )
                events.extend(failed)
                traced.update(traces_of(failed, [p.message for p in batch.settled]))
                if batch.paused:
                    await self._pause_senders(conn, batch.paused, now)
                if batch.opted_out:
                    reason = self._settings.opt_out_reason_provider
                    events.extend(await record_opt_outs(conn, batch.opted_out, now, reason))
                if batch.closed_windows:
                    await templates.close_windows(conn, batch.closed_windows)
                if batch.stopped_templates:
                    events.extend(
                        await templates.stop_templates(conn, batch.stopped_templates, now)
                    )
                await add_events(conn, events, traced)

        self._forget(outcomes, pending)
        count_recorded(batch, confirmed_sent, confirmed_settled)

    async def _pause_senders(
        self, conn: asyncpg.Connection, paused: dict[str, str], now: datetime
    ) -> None:
        """Rest the senders the provider flagged and move their queued messages to the others."""
        until = now + timedelta(seconds=self._settings.pause_sender_seconds)
        for sender_id, reason in paused.items():
            await senders.pause_senders(conn, [sender_id], until, reason)
        moved_to = self._placement.without(set(paused))
        await queue.reassign_orphans(
            conn,
            moved_to.sender_ids,
            moved_to.cumulative_weights,
            list(paused),
            ORPHAN_MOVE_BATCH,
        )

    def _forget(self, outcomes: list[Outcome], pending: list[PendingSettlement]) -> None:
        """Drop a written batch from the results; its messages' leases need no more renewal."""
        del self._results.outcomes[: len(outcomes)]
        del self._results.pending[: len(pending)]
        for outcome in outcomes:
            self._results.held.pop(outcome.message.message_id, None)


def traces_of(failed: list[MessageFailed], messages: list[ClaimedMessage]) -> dict[UUID, bytes]:
    """Each ``message.failed`` event's trace: its message's (the send's span, or the request's
    when the send made none), so reporting's handling of it joins that trace."""
    contexts = {m.message_id: m.trace_context for m in messages if m.trace_context is not None}
    return {e.event_id: contexts[e.message_id] for e in failed if e.message_id in contexts}


async def record_sent(
    conn: asyncpg.Connection, sent: list[SentMessage], accepted: list[Outcome], today: date
) -> tuple[set[UUID], list[Event | SerializedEvent], dict[UUID, bytes]]:
    """Mark the accepted sends sent and count them in their recipients' pacing; returns the
    messages confirmed (still this attempt's), their ``message.sent`` events and the trace of
    each event that belongs to one message's trace.

    One ``message.sent`` per ``SENT_PER_EVENT`` sends, not one per send: the outbox row, the
    publish and every reader's transaction per message were a fifth of the dispatcher's event
    loop while sending. An event whose sends share one trace (a flush of one reply) is told in
    that trace; any other is told in the flush's span, which links to the sends
    (``send_links``). Written straight from the outcomes (``Event.serialized``): a model per
    send, built and dumped, cost more than the statement storing it."""
    confirmed = await queue.mark_sent(conn, sent)
    items: list[dict] = []
    contexts: list[bytes | None] = []
    phones, sender_ids, times, campaign_flags = [], [], [], []
    for outcome in accepted:
        m = outcome.message
        if m.message_id not in confirmed:
            continue
        items.append(
            {
                "message_id": m.message_id,
                "campaign_id": m.campaign_id,
                "contact_id": m.contact_id,
                "conversation_id": m.conversation_id,
                "kind": m.kind,
                "provider_message_id": outcome.result.provider_message_id,
                "sender": outcome.sender_id,
                "attempt": m.attempt,
                "sent_at": outcome.finished_at,
            }
        )
        contexts.append(m.trace_context)
        phones.append(m.phone)
        sender_ids.append(outcome.sender_id)
        times.append(outcome.finished_at)
        campaign_flags.append(1 if m.kind == CAMPAIGN_KIND else 0)
    await queue.record_recipient_sends(conn, phones, sender_ids, times, campaign_flags, today)
    events: list[Event | SerializedEvent] = []
    traced: dict[UUID, bytes] = {}
    for start in range(0, len(items), SENT_PER_EVENT):
        event = MessagesSent.serialized(messages=items[start : start + SENT_PER_EVENT])
        events.append(event)
        shared = set(contexts[start : start + SENT_PER_EVENT])
        if len(shared) == 1 and (context := shared.pop()) is not None:
            traced[event.event_id] = context
    return confirmed, events, traced


def send_links(accepted: list[Outcome]) -> list[trace.Link]:
    """Links from the flush's span to the sends it records (the first ``MAX_SEND_LINKS``), so
    a batched ``message.sent`` leads back to each send's trace."""
    packed = (o.message.trace_context for o in accepted)
    contexts = [p for p in packed if p is not None][:MAX_SEND_LINKS]
    return [trace.Link(unpack_context(p)) for p in contexts]


async def record_settlements(
    conn: asyncpg.Connection, settled: list[PendingSettlement], now: datetime, today: date
) -> tuple[set[UUID], list[MessageFailed]]:
    """Settle the put-back and failed attempts and hand back the campaign quota they took;
    returns the messages confirmed and the ``message.failed`` events they publish."""
    confirmed = await queue.settle(conn, [p.settlement for p in settled], now)
    refunds = Counter(
        p.message.campaign_id
        for p in settled
        if p.returns_quota and p.message.message_id in confirmed
    )
    if refunds:
        await conn.execute(
            queue.SQL.refund_campaign_quota, list(refunds), list(refunds.values()), today
        )
    events: list[MessageFailed] = []
    for p in settled:
        if not p.publish_failure or p.message.message_id not in confirmed:
            continue
        s, m = p.settlement, p.message
        retryable = s.state in (QUEUED, HELD)  # a held message waits for a window or template
        events.append(
            MessageFailed(
                message_id=m.message_id,
                campaign_id=m.campaign_id,
                attempt=m.attempt,
                error_code=s.error_code or "unknown",
                error=s.error or "",
                retryable=retryable,
                next_attempt_at=s.due_at if s.state == QUEUED else None,
                final=not retryable,
            )
        )
    return confirmed, events


async def record_opt_outs(
    conn: asyncpg.Connection, opted_out: dict[str, ClaimedMessage], now: datetime, reason: str
) -> list[Event]:
    """Record the opt-outs providers reported and cancel what still waits for those phones."""
    phones = sorted(opted_out)
    await conn.execute(queue.SQL.record_opt_outs, phones, now, reason)
    await conn.execute(queue.SQL.cancel_pending_for_phones, phones, now)
    return [
        ContactOptedOut(contact_id=opted_out[phone].contact_id, phone=phone, reason=reason)
        for phone in phones
    ]


def count_recorded(batch: Batch, confirmed_sent: set[UUID], confirmed_settled: set[UUID]) -> None:
    """Metrics of a written batch: sends by sender and answer, latency, doubts entered."""
    by_sender: dict[str, int] = defaultdict(int)
    # One histogram child per priority in the batch: ``labels()`` per send cost about as much as
    # the observation itself.
    latency_by_priority: dict[int, Histogram] = {}
    for outcome in batch.accepted:
        message = outcome.message
        if message.message_id in confirmed_sent:
            by_sender[outcome.sender_id] += 1
            latency = latency_by_priority.get(message.priority)
            if latency is None:
                latency = metrics.ENQUEUE_TO_SENT.labels(str(message.priority))
                latency_by_priority[message.priority] = latency
            latency.observe(max(0.0, (outcome.finished_at - message.enqueued_at).total_seconds()))
    for sender_id, sent in by_sender.items():
        metrics.SENDS.labels(sender_id, "accepted").inc(sent)
    for outcome in batch.rejected.values():
        result = outcome.result
        metrics.SENDS.labels(outcome.sender_id, "rejected").inc()
        metrics.FAILURES.labels(outcome.sender_id, result.code, result.failure.value).inc()
    for p in batch.settled:
        if p.settlement.state == IN_DOUBT and p.message.message_id in confirmed_settled:
            metrics.IN_DOUBT_ENTERED.labels(p.settlement.error_code or "unknown").inc()
