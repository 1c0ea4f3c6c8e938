"""The claim loop: lease due messages for the held senders, then apply the send-time rules.

Every ``claim_interval_seconds``, and at once when an urgent message is queued, one statement
leases, for every active sender with room, as many due messages as it can send in the next
``claim_lookahead_seconds`` (most urgent first; ``claim_batch_max`` in all). The send-time
rules (``admission``) then put back the messages that must wait, capped campaigns take today's
quota for the rest, and what is left goes to its sender's buffer for ``sending``.
"""

import asyncio
import itertools
from collections import Counter
from datetime import date, datetime, timedelta

import asyncpg
from opentelemetry import trace

from disparo_dispatcher import metrics, queue, tiers
from disparo_dispatcher.admission import AdmissionRules, admit, wait_until
from disparo_dispatcher.clock import Clock, Monotonic, local_today
from disparo_dispatcher.cloud_rules import choose_form
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.quiet_hours import next_day_start
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.results import PendingSettlement, Results
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.slots import ACTIVE, SenderSlot
from disparo_shared.logging import get_logger
from disparo_shared.waiting import wait_for_event

log = get_logger(__name__)
tracer = trace.get_tracer("disparo.dispatcher")


def claim_sizes(
    slots: dict[str, SenderSlot], mono: float, lookahead_seconds: float, batch_max: int
) -> dict[str, int]:
    """Messages to claim per active sender whose lease still holds (``mono``, monotonic): what
    it can send in ``lookahead_seconds`` less what it has buffered, within its daily cap;
    ``batch_max`` in all, shared in proportion with at least one each. Senders with no room
    are left out: the claim probes only the senders named."""
    rooms = {
        sid: room
        for sid, slot in slots.items()
        if slot.state == ACTIVE
        and mono < slot.lease_deadline
        and (room := slot.room(lookahead_seconds)) > 0
    }
    total = sum(rooms.values())
    if total > batch_max:
        rooms = {sid: max(1, room * batch_max // total) for sid, room in rooms.items()}
    return rooms


class Claimer:
    """Fills the buffers of the held senders from the queue."""

    def __init__(
        self,
        settings: DispatcherSettings,
        replica_id: str,
        rules: AdmissionRules,
        slots: dict[str, SenderSlot],
        recipients: Recipients,
        results: Results,
        *,
        clock: Clock,
        monotonic: Monotonic,
    ) -> None:
        self._settings = settings
        self._replica_id = replica_id
        self._rules = rules
        self._slots = slots
        self._recipients = recipients
        self._results = results
        self._clock = clock
        self._monotonic = monotonic
        self._seq = itertools.count()  # claim order, among equally urgent buffered messages
        self._last_claimed: float | None = None  # monotonic time of the last claim that found any
        self._urgent = asyncio.Event()  # a commit queued an urgent message: claim now
        self._schema: str | None = None  # the queue's, as the urgent NOTIFY names it

    async def claim_loop(self, pool: asyncpg.Pool) -> None:
        """Claim every ``claim_interval_seconds``, and at once when a commit queued an urgent
        message (``queue.announce_urgent``).

        Each claim costs a few milliseconds whatever it finds (a probe per sender), so claims
        come a fifth of a second apart and take about a fifth of a second of sends each; a reply
        does not wait for that tick.
        """
        listener: asyncpg.Connection | None = None
        try:
            while True:
                listener = await self._listening(pool, listener)
                # Cleared before the claim: a reply queued while it runs is claimed right after.
                self._urgent.clear()
                try:
                    await self.claim_tick(pool)
                except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
                    log.warning("claim failed; retrying", error=str(exc))
                await wait_for_event(self._urgent, self._settings.claim_interval_seconds)
        finally:
            if listener is not None:
                await self._stop_listening(pool, listener)

    async def _listening(
        self, pool: asyncpg.Pool, listener: asyncpg.Connection | None
    ) -> asyncpg.Connection | None:
        """The connection that listens for urgent messages, opened again when it was lost;
        None while the database cannot be reached (claims then keep to their interval)."""
        if listener is not None and not listener.is_closed():
            return listener
        if listener is not None:
            await pool.release(listener)
        try:
            listener = await pool.acquire()
        except (TimeoutError, asyncpg.PostgresError, OSError):
            return None
        try:
            self._schema = await listener.fetchval("SELECT current_schema()")
            await listener.add_listener(queue.URGENT_QUEUED_CHANNEL, self._on_urgent)
        except (TimeoutError, asyncpg.PostgresError, OSError):
            await pool.release(listener)
            return None
        return listener

    async def _stop_listening(self, pool: asyncpg.Pool, listener: asyncpg.Connection) -> None:
        if not listener.is_closed():
            await listener.remove_listener(queue.URGENT_QUEUED_CHANNEL, self._on_urgent)
        await pool.release(listener)

    def _on_urgent(self, _conn: object, _pid: int, _channel: str, schema: str) -> None:
        if schema == self._schema:  # another schema's queue on the same server is not ours
            self._urgent.set()

    async def claim_tick(self, pool: asyncpg.Pool) -> int:
        """Claim for every sender with room and apply the send-time rules; returns how many
        messages went to the senders' buffers."""
        settings = self._settings
        mono = self._monotonic()
        rooms = self._rooms(mono)
        if not rooms:
            return 0
        now = self._clock()
        today = local_today(now, settings.time_zone)
        with tracer.start_as_current_span("dispatcher.claim") as span:
            async with pool.acquire() as conn:
                with metrics.CLAIM_SECONDS.time():
                    claimed = await queue.claim(
                        conn,
                        rooms,
                        now,
                        self._replica_id,
                        now + timedelta(seconds=settings.message_lease_seconds),
                    )
                span.set_attribute("dispatcher.claimed", len(claimed))
                if not claimed:
                    return 0
                self._last_claimed = mono
                metrics.CLAIMED.inc(len(claimed))
                admitted = self._admit(claimed, now, today)
                admitted = await self._apply_portfolio_tiers(conn, admitted, now)
                admitted = await self._apply_campaign_caps(conn, admitted, now, today)
        self._buffer(admitted, now, mono + settings.message_lease_seconds)
        return len(admitted)

    def claimed_within(self, seconds: float) -> bool:
        """Whether a claim found messages to send in the last ``seconds``."""
        last = self._last_claimed
        return last is not None and self._monotonic() - last < seconds

    def _rooms(self, mono: float) -> dict[str, int]:
        settings = self._settings
        return claim_sizes(
            self._slots, mono, settings.claim_lookahead_seconds, settings.claim_batch_max
        )

    def _admit(
        self, claimed: list[ClaimedMessage], now: datetime, today: date
    ) -> list[ClaimedMessage]:
        admitted = []
        for message in claimed:
            last_here = self._recipients.last_send(message.phone, now)
            wait = admit(message, now, today, self._rules, last_here)
            if wait is None:
                slot = self._slots.get(message.sender_id)
                if slot is not None:
                    wait = choose_form(message, slot.sender.provider, now)
            if wait is None:
                self._recipients.claimed(message.phone)
                admitted.append(message)
                continue
            metrics.LIMIT_WAITS.labels(wait.limit).inc()
            self._results.put_back(
                PendingSettlement(wait.settlement, message, wait.publish_failure)
            )
        return admitted

    async def _apply_portfolio_tiers(
        self, conn: asyncpg.Connection, admitted: list[ClaimedMessage], now: datetime
    ) -> list[ClaimedMessage]:
        """RED numbers take no campaign message; template sends need room in their portfolio's
        tier (``tiers``); what may not go now waits, for no attempt."""
        kept: list[ClaimedMessage] = []
        wanted: dict[str, list[tuple[str, str]]] = {}
        for message in admitted:
            if not tiers.quality_allows(message.sender_quality or "", message.kind):
                self._put_off(message, now + tiers.RETRY_WHEN_FULL, now, "sender_quality_red")
                continue
            if message.as_template and message.portfolio is not None:
                wanted.setdefault(message.portfolio, []).append((message.phone, message.sender_id))
            kept.append(message)
        if not wanted:
            return kept
        async with conn.transaction():
            granted = await tiers.reserve(conn, wanted, now, self._settings.default_messaging_tier)
        passed = []
        for message in kept:
            if (
                message.as_template
                and message.portfolio is not None
                and message.phone not in granted[message.portfolio]
            ):
                self._put_off(message, now + tiers.RETRY_WHEN_FULL, now, "portfolio_tier")
                continue
            passed.append(message)
        return passed

    def _put_off(self, message: ClaimedMessage, due: datetime, now: datetime, limit: str) -> None:
        metrics.LIMIT_WAITS.labels(limit).inc()
        self._recipients.released(message.phone)
        self._results.put_back(
            PendingSettlement(wait_until(message, due, now, shift=True), message)
        )

    async def _apply_campaign_caps(
        self, conn: asyncpg.Connection, admitted: list[ClaimedMessage], now: datetime, today: date
    ) -> list[ClaimedMessage]:
        """Take today's quota of capped campaigns; messages beyond it wait for tomorrow."""
        wanted = Counter(
            m.campaign_id
            for m in admitted
            if m.campaign_id is not None and m.campaign_max_per_day is not None
        )
        if not wanted:
            return admitted
        granted = await queue.reserve_campaign_quota(conn, dict(wanted), today)
        tomorrow = next_day_start(now, self._settings.time_zone)
        kept = []
        for message in admitted:
            cid = message.campaign_id
            if cid in wanted and cid in granted:
                if granted[cid] <= 0:
                    metrics.LIMIT_WAITS.labels("campaign_daily").inc()
                    self._recipients.released(message.phone)
                    self._results.put_back(
                        PendingSettlement(wait_until(message, tomorrow, now, shift=True), message)
                    )
                    continue
                granted[cid] -= 1
            kept.append(message)
        return kept

    def _buffer(self, admitted: list[ClaimedMessage], now: datetime, lease_ends: float) -> None:
        """Hand each admitted message to its sender's buffer; one whose sender stopped meanwhile
        goes back to the queue."""
        for message in admitted:
            slot = self._slots.get(message.sender_id)
            if slot is None or slot.state != ACTIVE:
                self._recipients.released(message.phone)
                self._results.put_back(
                    PendingSettlement(wait_until(message, now, now, shift=False), message)
                )
                continue
            slot.push(message, lease_ends, next(self._seq))
            slot.wake.set()
        if self._results.pending:
            self._results.wake.set()
