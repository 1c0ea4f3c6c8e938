"""The send loop of one dispatcher replica: lease senders, claim, pace, send, record.

Five loops share one process:

- **leases** (every ``sender_lease_renew_seconds``): beat, renew this replica's sender leases,
  give back or take senders to hold a fair share, reclaim messages a dead replica left
  'sending', move messages off senders that cannot send;
- **claim** (every ``claim_interval_seconds``): one statement leases, for every held sender, as
  many due messages as it can send in the next ``claim_lookahead_seconds`` (most urgent first),
  then the send-time rules (``admission``) put back those that must wait;
- **per sender**: pops its most urgent claimed message when its ``SendRateLimiter`` allows and
  sends it through the provider — many sends in flight, one shared HTTP client;
- **flush** (every ``flush_interval_seconds``): writes every finished attempt of the interval in
  one transaction — sent rows, settlements, recipients' pacing, paused senders, opt-outs and
  their events — so the database sees a few statements per batch, not per message;
- **doubts** (every ``in_doubt_resolve_interval_seconds``): settles sends whose outcome is
  unknown by the providers' sent-echoes (``in_doubt``), and prunes old echoes.

Crash safety: a claimed message is 'sending' with a lease in Postgres until its outcome is
written. If the replica dies between the provider's answer and the flush, the message's lease
expires and the sender's next holder moves it to 'in_doubt' (``reclaim_sending_as=resolve``,
the default): the provider's sent-echo then says whether it went out, and only a message the
provider never echoed is sent again, after ``in_doubt_grace_seconds``. A call that timed out is
in doubt the same way, since the provider may have taken it. ``reclaim_sending_as=retry`` puts
reclaimed messages straight back in line (at least once: the provider may have sent them), and
``dead`` chooses at-most-once (they wait, dead with ``lease_expired``, for a person to re-queue);
senders without echoes (``senders_without_echoes``) always fall back to ``retry``. A clean stop
(SIGTERM) drains in-flight sends and flushes before giving its leases back, so only a hard kill
leaves anything to reclaim.
"""

import asyncio
import heapq
import itertools
import math
import os
import random
import ssl
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import aiohttp
import asyncpg
from opentelemetry import trace

from disparo_dispatcher import in_doubt, metrics, queue, sender_leases, senders
from disparo_dispatcher.admission import CAMPAIGN_KIND, AdmissionRules, admit, wait_until
from disparo_dispatcher.providers import classify
from disparo_dispatcher.providers.base import (
    Accepted,
    FailureClass,
    OutgoingText,
    Provider,
    Rejected,
    SendResult,
)
from disparo_dispatcher.providers.registry import get_provider
from disparo_dispatcher.providers.transport import open_session
from disparo_dispatcher.providers.typing_indicator import typing_duration_ms
from disparo_dispatcher.queue import IN_DOUBT, QUEUED, ClaimedMessage, SentMessage, Settlement
from disparo_dispatcher.quiet_hours import SendWindow, local_day_start, next_day_start, zone
from disparo_dispatcher.rate_limits import SendRateLimiter, daily_cap
from disparo_dispatcher.retry_policy import RetrySchedule, judge_rejection
from disparo_dispatcher.senders import PlacementCache, Sender, placement
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.events import ContactOptedOut, Event, MessageFailed, MessageSent
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events
from disparo_shared.telemetry import tracing_exported

log = get_logger(__name__)
tracer = trace.get_tracer("disparo.dispatcher")

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]
ProviderFactory = Callable[[str, aiohttp.ClientSession], Provider]

ACTIVE = "active"
DRAINING = "draining"  # given back to the pool: no new sends, released once in-flight ends
STOPPED = "stopped"  # lease lost or sender paused: no new sends, forgotten once in-flight ends
ORPHAN_MOVE_BATCH = 5000
ECHO_PRUNE_EVERY = 60  # resolver passes between two prunes of old echoes
# Answers that leave unknown whether the provider took the send: no answer in time, a connection
# broken after the request went out (see providers.transport), a 2xx without the message's id.
AMBIGUOUS_CODES = frozenset({classify.TIMEOUT, classify.CONNECTION_ERROR, "malformed_response"})
LEASE_MARGIN_SECONDS = 2.0  # connect time and clock slack on top of the provider's read timeout


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_today(now: datetime, time_zone: str) -> date:
    return now.astimezone(zone(time_zone)).date()


def admission_rules(settings: DispatcherSettings) -> AdmissionRules:
    return AdmissionRules(
        pair_spacing_seconds=settings.pair_spacing_seconds,
        recipient_campaign_max_per_day=settings.recipient_campaign_max_per_day,
        window=send_window(settings),
        quiet_hours_exempt_kinds=frozenset(settings.quiet_hours_exempt_kinds),
        day_zone=settings.time_zone,
    )


def send_window(settings: DispatcherSettings) -> SendWindow:
    return SendWindow(
        settings.send_window_start, settings.send_window_end, frozenset(settings.send_on_weekdays)
    )


@dataclass
class SenderSlot:
    """A sender this replica holds: its account, limiter, daily count and claimed messages."""

    sender: Sender
    provider: Provider
    account: object
    limiter: SendRateLimiter
    day: date
    sent_today: int
    cap_today: int | None
    lease_deadline: float  # monotonic: stop sending past this unless renewed
    state: str = ACTIVE
    in_flight: int = 0
    buffer: list = field(
        default_factory=list
    )  # heap of (-priority, rank_at, seq, message, lease_ends)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    http: aiohttp.ClientSession | None = None

    @property
    def sender_id(self) -> str:
        return self.sender.sender_id

    def room(self, lookahead_seconds: float) -> int:
        """How many more messages to claim for this sender now."""
        target = max(1, math.ceil(self.limiter.rate * lookahead_seconds))
        room = target - len(self.buffer)
        if self.cap_today is not None:
            room = min(room, self.cap_today - self.sent_today - len(self.buffer))
        return max(0, room)


@dataclass(slots=True)
class Outcome:
    """A finished provider call, waiting for the flush."""

    sender_id: str
    message: ClaimedMessage
    result: SendResult
    finished_at: datetime


@dataclass(slots=True)
class PendingSettlement:
    """A claimed message put back or ended without a provider call, waiting for the flush."""

    settlement: Settlement
    message: ClaimedMessage
    publish_failure: bool = False
    # Handed back after taking its campaign's daily quota: the quota goes back with it.
    returns_quota: bool = False


def holds_campaign_quota(message: ClaimedMessage) -> bool:
    """Whether a buffered message took a share of its campaign's daily cap when admitted."""
    return message.campaign_id is not None and message.campaign_max_per_day is not None


class Dispatcher:
    """One replica's send loop; ``run(pool)`` until cancelled."""

    def __init__(
        self,
        settings: DispatcherSettings,
        placement_cache: PlacementCache,
        *,
        replica_id: str | None = None,
        clock: Clock = utc_now,
        monotonic: Monotonic = time.monotonic,
        rng: random.Random | None = None,
        environ: Mapping[str, str] = os.environ,
        provider_factory: ProviderFactory = get_provider,
    ) -> None:
        self.settings = settings
        self.replica_id = replica_id or settings.replica_id or f"dispatcher-{uuid4().hex[:12]}"
        self.placement = placement_cache
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._environ = environ
        self._provider_factory = provider_factory
        self._rules = admission_rules(settings)
        self._retry = RetrySchedule(settings.retry_base_seconds, settings.retry_max_seconds)
        self.slots: dict[str, SenderSlot] = {}
        self._recent: dict[str, datetime] = {}  # phone → when this replica's last send to it ended
        self._busy: Counter[str] = Counter()  # phone → its messages claimed here, not yet answered
        self._outcomes: list[Outcome] = []
        self._pending: list[PendingSettlement] = []
        self._sends: set[asyncio.Task] = set()
        self._in_flight = 0  # provider calls under way, all senders together
        self._send_room = asyncio.Event()  # set when ``_in_flight`` drops below the cap
        # Messages in flight or answered but not yet flushed → monotonic end of their lease:
        # renewed while they last, and never reclaimed by this replica (see ``_lease_tick``).
        self._held: dict = {}
        self._flush_wake = asyncio.Event()
        self._seq = itertools.count()
        self._resolver_passes = 0
        self._pool: asyncpg.Pool | None = None
        self._tls: ssl.SSLContext | None = None  # loaded once: reading the CA bundle costs ~40 ms

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self, pool: asyncpg.Pool) -> None:
        """Send until cancelled; then drain in-flight sends, flush, and give the senders back."""
        self._pool = pool
        async with pool.acquire() as conn:
            await senders.seed_senders(conn, self.settings.senders)
        loops = [
            asyncio.create_task(
                self._every(self.settings.sender_lease_renew_seconds, self._lease_tick)
            ),
            asyncio.create_task(self._claim_loop()),
            asyncio.create_task(self._flush_loop()),
            asyncio.create_task(
                self._every(self.settings.in_doubt_resolve_interval_seconds, self._resolve_doubts)
            ),
            asyncio.create_task(
                self._every(self.settings.metrics_refresh_seconds, self._refresh_gauges)
            ),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a loop only ends by raising: surface it to the supervisor
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self._stop()

    async def _every(self, seconds: float, tick: Callable[[], object]) -> None:
        while True:
            try:
                await tick()
            except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
                log.warning(
                    "dispatcher tick failed; next one retries", tick=tick.__name__, error=str(exc)
                )
            await asyncio.sleep(seconds)

    async def _stop(self) -> None:
        for slot in self.slots.values():
            slot.state = DRAINING
            self._release_buffer(slot)
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=self.settings.provider_timeout_seconds + 1)
        for slot in self.slots.values():
            if slot.task:
                slot.task.cancel()
            if slot.http:
                await slot.http.close()
        for _ in range(5):
            if not (self._outcomes or self._pending):
                break
            try:
                await self._flush()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("final flush failed", error=str(exc))
                break
        try:
            async with self._pool.acquire() as conn:
                await sender_leases.release(conn, self.replica_id, list(self.slots))
                await sender_leases.forget(conn, self.replica_id)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not give leases back; they expire by themselves", error=str(exc))
        self.slots.clear()
        metrics.SENDERS_HELD.set(0)

    # --- leases ----------------------------------------------------------------------------

    async def _lease_tick(self) -> None:
        settings = self.settings
        now = self._clock()
        today = local_today(now, settings.time_zone)
        lease_until = now + timedelta(seconds=settings.sender_lease_seconds)
        async with self._pool.acquire() as conn:
            await senders.resume_rested_senders(conn, now)
            live = await sender_leases.heartbeat(conn, self.replica_id, now, lease_until)
            everyone = {s.sender_id: s for s in await senders.list_senders(conn)}
            current = placement(list(everyone.values()), now, today, settings.warmup_daily_caps)
            self.placement.replace(current)

            held = [sid for sid, slot in self.slots.items() if slot.state != STOPPED]
            kept = await sender_leases.renew(conn, self.replica_id, held, lease_until)
            deadline = (
                self._monotonic()
                + settings.sender_lease_seconds
                - settings.sender_lease_renew_seconds
            )
            for sid in held:
                slot = self.slots[sid]
                if sid not in kept:
                    log.info("sender lease lost", sender=sid)
                    self._stop_slot(slot)
                    continue
                slot.lease_deadline = deadline
                self._refresh_slot(slot, everyone[sid], today)

            # Give back senders above the fair share; forget those fully stopped.
            active = sorted(sid for sid, slot in self.slots.items() if slot.state == ACTIVE)
            share = sender_leases.fair_share(len(current.sender_ids), live)
            for sid in active[share:]:
                self.slots[sid].state = DRAINING
                self._release_buffer(self.slots[sid])
            finished = [
                sid
                for sid, slot in self.slots.items()
                if slot.state in (DRAINING, STOPPED) and slot.in_flight == 0
            ]
            giving_back = [sid for sid in finished if self.slots[sid].state == DRAINING]
            await sender_leases.release(conn, self.replica_id, giving_back)
            for sid in finished:
                self._forget_slot(sid)

            holding = sum(1 for slot in self.slots.values() if slot.state == ACTIVE)
            draining = sum(1 for slot in self.slots.values() if slot.state == DRAINING)
            if not draining and holding < share:
                rows = await sender_leases.acquire(
                    conn, self.replica_id, now, lease_until, share - holding
                )
                if rows:
                    await self._take_over(
                        [Sender.from_row(r) for r in rows], conn, now, today, deadline
                    )

            await self._renew_held_leases(conn, now)
            mine = [sid for sid, slot in self.slots.items() if slot.state == ACTIVE]
            reclaimed = await queue.reclaim_expired_leases(
                conn,
                mine,
                now,
                retry=settings.reclaim_sending_as != "dead",
                in_doubt_senders=[sid for sid in mine if self._resolves_doubts(sid)],
                held=self._held_ids(),
            )
            if reclaimed:
                log.warning("reclaimed messages of a stopped replica", count=len(reclaimed))
                await self._publish_reclaimed(conn, reclaimed, now)
            if current.unsendable or current.sender_ids:
                await queue.reassign_orphans(
                    conn,
                    current.sender_ids,
                    current.cumulative_weights,
                    current.unsendable,
                    ORPHAN_MOVE_BATCH,
                )
        self._forget_old_recipients(now)
        metrics.SENDERS_HELD.set(sum(1 for s in self.slots.values() if s.state == ACTIVE))

    async def _renew_held_leases(self, conn: asyncpg.Connection, now: datetime) -> None:
        """Extend the leases of sends in flight or awaiting their flush that would run out
        before the next tick or two: their outcome is on its way, and only this replica may
        record it (a reclaim elsewhere would put them in doubt, or send them again)."""
        settings = self.settings
        mono = self._monotonic()
        soon = mono + 2 * settings.sender_lease_renew_seconds + LEASE_MARGIN_SECONDS
        due = [mid for mid, ends in self._held.items() if ends < soon]
        if not due:
            return
        renewed = await queue.renew_message_leases(
            conn, due, self.replica_id, now + timedelta(seconds=settings.message_lease_seconds)
        )
        ends = mono + settings.message_lease_seconds
        for mid in renewed:
            if mid in self._held:
                self._held[mid] = ends

    def _held_ids(self) -> list:
        """Every message this replica still knows as 'sending': buffered, in flight, or with
        an outcome or settlement waiting for the flush."""
        ids = set(self._held)
        for slot in self.slots.values():
            ids.update(entry[3].message_id for entry in slot.buffer)
        ids.update(p.message.message_id for p in self._pending)
        ids.update(o.message.message_id for o in self._outcomes)
        return list(ids)

    async def _take_over(
        self,
        taken: list[Sender],
        conn: asyncpg.Connection,
        now: datetime,
        today: date,
        deadline: float,
    ) -> None:
        """Start sending for newly leased senders, after a one-second window of silence."""
        since = local_day_start(now, self.settings.time_zone)
        sent = await queue.count_sent_since(conn, [s.sender_id for s in taken], since)
        broken: list[tuple[str, str]] = []
        for sender in taken:
            http = self._http_client(sender.rate_per_second)
            try:
                provider = self._provider_factory(sender.provider, http)
                account = sender.account(self._environ)
            except (LookupError, ValueError) as exc:
                await http.close()
                broken.append((sender.sender_id, f"configuration: {exc}"))
                continue
            slot = SenderSlot(
                sender=sender,
                provider=provider,
                account=account,
                limiter=SendRateLimiter(
                    sender.rate_per_second,
                    self.settings.spacing_jitter,
                    self._rng,
                    not_before=self._monotonic() + 1.0,
                ),
                day=today,
                sent_today=sent.get(sender.sender_id, 0),
                cap_today=daily_cap(
                    sender.daily_limit,
                    sender.warmup_started_on,
                    today,
                    self.settings.warmup_daily_caps,
                ),
                lease_deadline=deadline,
                http=http,
            )
            slot.task = asyncio.create_task(self._drive(slot))
            self.slots[sender.sender_id] = slot
            log.info("sender lease taken", sender=sender.sender_id, replica=self.replica_id)
        for sender_id, reason in broken:
            log.error("sender cannot send; pausing it", sender=sender_id, reason=reason)
            await senders.pause_senders(
                conn,
                [sender_id],
                now + timedelta(seconds=self.settings.pause_sender_seconds),
                reason,
            )

    def _http_client(self, rate_per_second: int) -> aiohttp.ClientSession:
        """A session of the sender's own, its pool sized to the sender's rate.

        One session per sender rather than one for the process: a slow or stuck provider
        number holds only its own connections, never another sender's, and a sender never
        needs more connections than the sends its window lets fly at once. (A single shared
        session measured no cheaper per send.)
        """
        size = max(4, min(self.settings.http_connections_per_sender, rate_per_second))
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return open_session(size, self.settings.provider_timeout_seconds, self._tls)

    def _refresh_slot(self, slot: SenderSlot, sender: Sender, today: date) -> None:
        """Pick up configuration changes and roll the day over."""
        slot.sender = sender
        if slot.limiter.rate != sender.rate_per_second:
            slot.limiter.set_rate(sender.rate_per_second)
        if slot.day != today:
            slot.day = today
            slot.sent_today = 0
        slot.cap_today = daily_cap(
            sender.daily_limit, sender.warmup_started_on, today, self.settings.warmup_daily_caps
        )

    def _stop_slot(self, slot: SenderSlot) -> None:
        slot.state = STOPPED
        self._release_buffer(slot)
        slot.wake.set()

    def _forget_slot(self, sender_id: str) -> None:
        slot = self.slots.pop(sender_id)
        if slot.task:
            slot.task.cancel()
        if slot.http:
            client = slot.http
            task = asyncio.create_task(client.close())
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _release_buffer(
        self, slot: SenderSlot, due_at: datetime | None = None, limit: str | None = None
    ) -> None:
        """Hand claimed-but-unsent messages back to the queue (the attempt is returned)."""
        now = self._clock()
        while slot.buffer:
            message = heapq.heappop(slot.buffer)[3]
            self._unbusy(message.phone)
            self._pending.append(
                PendingSettlement(
                    wait_until(message, due_at or now, now, shift=due_at is not None),
                    message,
                    returns_quota=holds_campaign_quota(message),
                )
            )
            if limit:
                metrics.LIMIT_WAITS.labels(limit).inc()
        self._flush_wake.set()

    def _unbusy(self, phone: str) -> None:
        self._busy[phone] -= 1
        if self._busy[phone] <= 0:
            del self._busy[phone]

    def _forget_old_recipients(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.settings.pair_spacing_seconds + 60)
        self._recent = {phone: at for phone, at in self._recent.items() if at > horizon}

    def _resolves_doubts(self, sender_id: str) -> bool:
        """Whether a crashed replica's sends on this sender wait for the provider's echo."""
        return self.settings.reclaim_sending_as == "resolve" and self.settings.echoes_from(
            sender_id
        )

    async def _publish_reclaimed(self, conn: asyncpg.Connection, rows: list, now: datetime) -> None:
        """``message.failed`` for reclaimed messages put back or dead; doubts tell theirs later."""
        doubtful = sum(1 for row in rows if row["state"] == IN_DOUBT)
        if doubtful:
            metrics.IN_DOUBT_ENTERED.labels("lease_expired").inc(doubtful)
        events: list[Event] = [
            MessageFailed(
                message_id=row["message_id"],
                campaign_id=row["campaign_id"],
                attempt=row["attempt"],
                error_code="lease_expired",
                error="the replica sending it stopped before recording the outcome",
                retryable=row["state"] == QUEUED,
                next_attempt_at=now if row["state"] == QUEUED else None,
                final=row["state"] != QUEUED,
            )
            for row in rows
            if row["state"] != IN_DOUBT
        ]
        await add_events(conn, events)

    async def _resolve_doubts(self) -> None:
        """Settle doubtful sends by the providers' echoes; now and then forget old echoes."""
        settings = self.settings
        rules = in_doubt.DoubtRules(
            grace=timedelta(seconds=settings.in_doubt_grace_seconds),
            skew=timedelta(seconds=settings.echo_match_skew_seconds),
            time_zone=settings.time_zone,
        )
        async with self._pool.acquire() as conn:
            done = await in_doubt.resolve_all_in_doubt(conn, self._clock(), rules)
            if done.sent or done.given_up:
                log.info("doubtful sends settled", sent=done.sent, given_up=done.given_up)
            self._resolver_passes += 1
            if self._resolver_passes % ECHO_PRUNE_EVERY == 1:
                await in_doubt.prune_echoes(
                    conn, self._clock(), timedelta(seconds=settings.echo_retention_seconds)
                )

    # --- claiming --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            try:
                await self._claim_tick()
            except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
                log.warning("claim failed; retrying", error=str(exc))
            await asyncio.sleep(self.settings.claim_interval_seconds)

    async def _claim_tick(self) -> int:
        """Claim for every sender with room, apply the send-time rules; returns messages admitted."""
        settings = self.settings
        mono = self._monotonic()
        rooms = {
            sid: room
            for sid, slot in self.slots.items()
            if slot.state == ACTIVE
            and mono < slot.lease_deadline
            and (room := slot.room(settings.claim_lookahead_seconds)) > 0
        }
        if not rooms:
            return 0
        if sum(rooms.values()) > settings.claim_batch_max:
            scale = settings.claim_batch_max / sum(rooms.values())
            rooms = {sid: max(1, int(room * scale)) for sid, room in rooms.items()}
        now = self._clock()
        today = local_today(now, settings.time_zone)
        with tracer.start_as_current_span("dispatcher.claim") as span:
            async with self._pool.acquire() as conn:
                claimed = await queue.claim(
                    conn,
                    rooms,
                    now,
                    self.replica_id,
                    now + timedelta(seconds=settings.message_lease_seconds),
                )
                span.set_attribute("dispatcher.claimed", len(claimed))
                if not claimed:
                    return 0
                metrics.CLAIMED.inc(len(claimed))
                admitted = self._admit(claimed, now, today)
                admitted = await self._apply_campaign_caps(conn, admitted, now, today)
        lease_ends = mono + settings.message_lease_seconds
        for message in admitted:
            slot = self.slots.get(message.sender_id)
            if slot is None or slot.state != ACTIVE:
                self._unbusy(message.phone)
                self._pending.append(
                    PendingSettlement(wait_until(message, now, now, shift=False), message)
                )
                continue
            heapq.heappush(
                slot.buffer,
                (-message.priority, message.rank_at, next(self._seq), message, lease_ends),
            )
            slot.wake.set()
        if self._pending:
            self._flush_wake.set()
        return len(admitted)

    def _admit(
        self, claimed: list[ClaimedMessage], now: datetime, today: date
    ) -> list[ClaimedMessage]:
        admitted = []
        for message in claimed:
            # A message to this phone still waiting or in flight here counts as sent just now:
            # the next one waits a full spacing after that one's answer.
            last_here = now if self._busy[message.phone] else self._recent.get(message.phone)
            wait = admit(message, now, today, self._rules, last_here)
            if wait is None:
                self._busy[message.phone] += 1
                admitted.append(message)
                continue
            metrics.LIMIT_WAITS.labels(wait.limit).inc()
            self._pending.append(PendingSettlement(wait.settlement, message, wait.publish_failure))
        return admitted

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
        tomorrow = next_day_start(now, self.settings.time_zone)
        kept = []
        for message in admitted:
            cid = message.campaign_id
            if cid in wanted and cid in granted:
                if granted[cid] <= 0:
                    metrics.LIMIT_WAITS.labels("campaign_daily").inc()
                    self._unbusy(message.phone)
                    self._pending.append(
                        PendingSettlement(wait_until(message, tomorrow, now, shift=True), message)
                    )
                    continue
                granted[cid] -= 1
            kept.append(message)
        return kept

    # --- sending ---------------------------------------------------------------------------

    async def _drive(self, slot: SenderSlot) -> None:
        """Send this sender's claimed messages, most urgent first, as fast as its limits allow."""
        while True:
            if slot.state != ACTIVE or not slot.buffer:
                slot.wake.clear()
                await slot.wake.wait()
                continue
            mono = self._monotonic()
            if mono >= slot.lease_deadline:
                self._release_buffer(slot)  # the lease may be gone: only its holder may send
                continue
            delay = slot.limiter.delay(mono)
            if delay is None:
                slot.wake.clear()
                await slot.wake.wait()
                continue
            if delay > 0:
                metrics.RATE_WAIT_SECONDS.labels(slot.sender_id).inc(delay)
                await asyncio.sleep(delay)
                continue
            if self._in_flight >= self.settings.max_in_flight:
                # Backpressure: the replica has all the calls it can carry; wait for answers.
                self._send_room.clear()
                await self._send_room.wait()
                continue
            if slot.cap_today is not None and slot.sent_today >= slot.cap_today:
                self._release_buffer(
                    slot, next_day_start(self._clock(), self.settings.time_zone), "sender_daily"
                )
                continue
            *_, message, lease_ends = heapq.heappop(slot.buffer)
            typing_ms = (
                typing_duration_ms(message.body, self._rng) if self.settings.typing_indicator else 0
            )
            # Start only while the message's lease outlasts the longest possible call: past that,
            # another replica may reclaim and send it, and a late start would be a second send.
            longest_call = (
                self.settings.provider_timeout_seconds + typing_ms / 1000 + LEASE_MARGIN_SECONDS
            )
            if mono + longest_call > lease_ends:
                self._unbusy(message.phone)
                self._pending.append(
                    PendingSettlement(
                        wait_until(message, self._clock(), self._clock(), False),
                        message,
                        returns_quota=holds_campaign_quota(message),
                    )
                )
                metrics.LIMIT_WAITS.labels("lease_too_short").inc()
                continue
            slot.limiter.started(mono)
            slot.sent_today += 1
            slot.in_flight += 1
            self._in_flight += 1
            self._held[message.message_id] = lease_ends
            task = asyncio.create_task(self._send(slot, message, typing_ms))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, slot: SenderSlot, message: ClaimedMessage, typing_ms: int) -> None:
        outgoing = OutgoingText(message.message_id, message.phone, message.body, typing_ms)
        if tracing_exported():
            with tracer.start_as_current_span(
                "dispatcher.send",
                attributes={
                    "messaging.message.id": str(message.message_id),
                    "dispatcher.sender": slot.sender_id,
                    "dispatcher.attempt": message.attempt,
                    "dispatcher.priority": message.priority,
                },
            ) as span:
                result = await self._call_provider(slot, outgoing)
                if isinstance(result, Rejected):
                    span.set_attribute("dispatcher.error_code", result.code)
        else:
            # Nothing reads spans in this process: a span per send would cost ~10% of the
            # replica's CPU for nothing (measured with py-spy under ``disparo bench dispatch``).
            result = await self._call_provider(slot, outgoing)
        finished_at = self._clock()
        slot.limiter.finished(self._monotonic())
        slot.in_flight -= 1
        self._in_flight -= 1
        if self._in_flight < self.settings.max_in_flight:
            self._send_room.set()
        self._recent[message.phone] = finished_at
        self._unbusy(message.phone)
        if (
            isinstance(result, Rejected)
            and result.failure is FailureClass.PAUSE_SENDER
            and slot.state == ACTIVE
        ):
            log.warning(
                "provider flagged the sender; pausing it", sender=slot.sender_id, code=result.code
            )
            self.placement.without({slot.sender_id})
            self._stop_slot(slot)
        self._outcomes.append(Outcome(slot.sender_id, message, result, finished_at))
        slot.wake.set()
        if len(self._outcomes) >= self.settings.flush_batch_max:
            self._flush_wake.set()

    async def _call_provider(self, slot: SenderSlot, outgoing: OutgoingText) -> SendResult:
        try:
            return await slot.provider.send_text(slot.account, outgoing)
        except Exception as exc:  # adapters promise not to raise; one that does must not strand
            log.exception("provider adapter raised", sender=slot.sender_id)
            return Rejected(FailureClass.TRANSIENT, "adapter_error", repr(exc)[:300])

    # --- recording -------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            self._flush_wake.clear()
            try:
                await asyncio.wait_for(
                    self._flush_wake.wait(), self.settings.flush_interval_seconds
                )
            except TimeoutError:
                pass
            while self._outcomes or self._pending:
                try:
                    await self._flush()
                except asyncpg.DeadlockDetectedError:
                    continue
                except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
                    log.warning("flush failed; results kept for the next try", error=str(exc))
                    await asyncio.sleep(1.0)
                    break
                if len(self._outcomes) < self.settings.flush_batch_max:
                    break

    async def _flush(self) -> None:
        """Write one batch of outcomes and settlements, with their events, in one transaction."""
        limit = self.settings.flush_batch_max
        outcomes, pending = self._outcomes[:limit], self._pending[:limit]
        now = self._clock()
        today = local_today(now, self.settings.time_zone)

        sent: list[SentMessage] = []
        accepted: list[Outcome] = []
        settled: list[PendingSettlement] = list(pending)
        failures: dict = {}  # message_id → (outcome, verdict)
        paused: dict[str, str] = {}
        opted_out: dict[str, ClaimedMessage] = {}
        for outcome in outcomes:
            m, result = outcome.message, outcome.result
            if isinstance(result, Accepted):
                sent.append(
                    SentMessage(
                        m.message_id, m.attempt, result.provider_message_id, outcome.finished_at
                    )
                )
                accepted.append(outcome)
                continue
            verdict = judge_rejection(
                result,
                m.attempt,
                m.max_attempts,
                now,
                self._retry,
                self._rng,
                self.settings.pair_spacing_seconds,
            )
            failures[m.message_id] = (outcome, verdict)
            if result.code in AMBIGUOUS_CODES and self.settings.echoes_from(outcome.sender_id):
                # The provider may have taken it and only the answer was lost: its echo decides
                # (``in_doubt``); without one it is retried at the backoff chosen here.
                doubt = Settlement(
                    m.message_id,
                    m.attempt,
                    IN_DOUBT,
                    due_at=verdict.due_at,
                    error_code=result.code,
                    error=result.detail[:500],
                )
                settled.append(PendingSettlement(doubt, m))
                continue
            settlement = Settlement(
                m.message_id,
                m.attempt,
                verdict.state,
                due_at=verdict.due_at,
                attempt_change=0 if verdict.costs_attempt else -1,
                error_code=result.code,
                error=result.detail[:500],
            )
            settled.append(PendingSettlement(settlement, m, verdict.publish_failure))
            if verdict.pause_sender:
                paused[outcome.sender_id] = f"{result.code}: {result.detail[:200]}"
            if verdict.opted_out:
                opted_out[m.phone] = m

        with tracer.start_as_current_span("dispatcher.record") as span:
            span.set_attribute("dispatcher.outcomes", len(outcomes))
            async with self._pool.acquire() as conn, conn.transaction():
                confirmed_sent = await queue.mark_sent(conn, sent)
                events: list[Event] = []
                phones, sender_ids, times, campaign_flags = [], [], [], []
                for outcome in accepted:
                    m = outcome.message
                    if m.message_id not in confirmed_sent:
                        continue
                    events.append(
                        MessageSent(
                            message_id=m.message_id,
                            campaign_id=m.campaign_id,
                            contact_id=m.contact_id,
                            conversation_id=m.conversation_id,
                            kind=m.kind,
                            provider_message_id=outcome.result.provider_message_id,
                            sender=outcome.sender_id,
                            attempt=m.attempt,
                            sent_at=outcome.finished_at,
                        )
                    )
                    phones.append(m.phone)
                    sender_ids.append(outcome.sender_id)
                    times.append(outcome.finished_at)
                    campaign_flags.append(1 if m.kind == CAMPAIGN_KIND else 0)
                await queue.record_recipient_sends(
                    conn, phones, sender_ids, times, campaign_flags, today
                )

                confirmed_settled = await queue.settle(conn, [p.settlement for p in settled], now)
                refunds = Counter(
                    p.message.campaign_id
                    for p in settled
                    if p.returns_quota and p.message.message_id in confirmed_settled
                )
                if refunds:
                    await conn.execute(
                        queue.SQL.refund_campaign_quota, list(refunds), list(refunds.values()), today
                    )
                for p in settled:
                    if not p.publish_failure or p.message.message_id not in confirmed_settled:
                        continue
                    s, m = p.settlement, p.message
                    retryable = s.state == QUEUED
                    events.append(
                        MessageFailed(
                            message_id=m.message_id,
                            campaign_id=m.campaign_id,
                            attempt=m.attempt,
                            error_code=s.error_code or "unknown",
                            error=s.error or "",
                            retryable=retryable,
                            next_attempt_at=s.due_at if retryable else None,
                            final=not retryable,
                        )
                    )

                if paused:
                    until = now + timedelta(seconds=self.settings.pause_sender_seconds)
                    for sender_id, reason in paused.items():
                        await senders.pause_senders(conn, [sender_id], until, reason)
                    moved_to = self.placement.without(set(paused))
                    await queue.reassign_orphans(
                        conn,
                        moved_to.sender_ids,
                        moved_to.cumulative_weights,
                        list(paused),
                        ORPHAN_MOVE_BATCH,
                    )
                if opted_out:
                    phones_out = sorted(opted_out)
                    reason = self.settings.opt_out_reason_provider
                    await conn.execute(queue.SQL.record_opt_outs, phones_out, now, reason)
                    await conn.execute(queue.SQL.cancel_pending_for_phones, phones_out, now)
                    events.extend(
                        ContactOptedOut(contact_id=opted_out[p].contact_id, phone=p, reason=reason)
                        for p in phones_out
                    )
                await add_events(conn, events)

        del self._outcomes[: len(outcomes)]
        del self._pending[: len(pending)]
        for outcome in outcomes:
            self._held.pop(outcome.message.message_id, None)
        self._count(accepted, confirmed_sent, failures)
        for p in settled:
            if p.settlement.state == IN_DOUBT and p.message.message_id in confirmed_settled:
                metrics.IN_DOUBT_ENTERED.labels(p.settlement.error_code or "unknown").inc()

    def _count(self, accepted: list[Outcome], confirmed: set, failures: dict) -> None:
        by_sender: dict[str, int] = defaultdict(int)
        for outcome in accepted:
            if outcome.message.message_id in confirmed:
                by_sender[outcome.sender_id] += 1
                latency = (outcome.finished_at - outcome.message.enqueued_at).total_seconds()
                metrics.ENQUEUE_TO_SENT.labels(str(outcome.message.priority)).observe(
                    max(0.0, latency)
                )
        for sender_id, count in by_sender.items():
            metrics.SENDS.labels(sender_id, "accepted").inc(count)
        for outcome, _verdict in failures.values():
            result = outcome.result
            metrics.SENDS.labels(outcome.sender_id, "rejected").inc()
            metrics.FAILURES.labels(outcome.sender_id, result.code, result.failure.value).inc()

    # --- observability ---------------------------------------------------------------------

    async def _refresh_gauges(self) -> None:
        async with self._pool.acquire() as conn:
            rows = await queue.queue_depth(conn)
        metrics.QUEUE_DEPTH.clear()
        for row in rows:
            metrics.QUEUE_DEPTH.labels(row["state"], str(row["priority"])).set(row["messages"])
