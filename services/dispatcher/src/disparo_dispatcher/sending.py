"""The per-sender send loop: pop the most urgent claimed message, pace it, call the provider.

Each held sender runs ``SendDriver.drive`` as its own task, with an HTTP session of its own;
all senders together keep at most ``max_in_flight`` provider calls under way (urgent messages
may go ``urgent_in_flight_reserve`` past it, so a reply never queues behind a campaign's calls).
A finished call becomes an ``Outcome`` for the flush (``recording``). The one database call
here is the confirmation of an automatic message (a follow-up) right before its provider call
(``automatic_messages.confirm_send``), so a reply that arrives while it waits in a buffer still
stops it.
"""

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import date

import asyncpg
from opentelemetry import trace

from disparo_dispatcher import metrics
from disparo_dispatcher.admission import wait_until
from disparo_dispatcher.automatic_messages import AUTOMATIC_KINDS
from disparo_dispatcher.clock import Clock, Monotonic
from disparo_dispatcher.providers.base import (
    FailureClass,
    OutgoingText,
    Provider,
    Rejected,
    SendResult,
)
from disparo_dispatcher.providers.connections import ConnectionPool
from disparo_dispatcher.providers.transport import open_session
from disparo_dispatcher.providers.typing_indicator import typing_duration_ms
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.quiet_hours import next_day_start
from disparo_dispatcher.rate_limits import SendRateLimiter
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.results import Outcome, PendingSettlement, Results, holds_campaign_quota
from disparo_dispatcher.senders import PlacementCache, Sender
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.slots import ACTIVE, SenderSlot, cap_for, release_buffer, stop_slot
from disparo_shared.logging import get_logger
from disparo_shared.telemetry import context_of, pack_context, tracing_exported

log = get_logger(__name__)
tracer = trace.get_tracer("disparo.dispatcher")

ProviderFactory = Callable[[str, ConnectionPool], Provider]
ConfirmAutomatic = Callable[[ClaimedMessage], Awaitable[bool]]

LEASE_MARGIN_SECONDS = 2.0  # connect time and clock slack on top of the provider's read timeout


class SendDriver:
    """Runs the send loops of the held senders and counts the calls in flight."""

    def __init__(
        self,
        settings: DispatcherSettings,
        placement: PlacementCache,
        recipients: Recipients,
        results: Results,
        *,
        clock: Clock,
        monotonic: Monotonic,
        rng: random.Random,
        environ: Mapping[str, str],
        provider_factory: ProviderFactory,
    ) -> None:
        self._settings = settings
        self._placement = placement
        self._recipients = recipients
        self._results = results
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng
        self._environ = environ
        self._provider_factory = provider_factory
        self._tasks: set[asyncio.Task] = set()  # sends and client closes still running
        self._in_flight = 0  # provider calls under way, all senders together
        # senders waiting for ``_in_flight`` to drop below the cap, woken when it does
        self._waiting_for_room: dict[str, SenderSlot] = {}
        self._tls: ssl.SSLContext | None = None  # loaded once: reading the CA bundle costs ~40 ms
        # Checks a claimed follow-up just before its call (set by the worker, which has the pool).
        self.confirm_automatic: ConfirmAutomatic | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(
        self, sender: Sender, today: date, sent_today: int, lease_deadline: float
    ) -> SenderSlot:
        """Open a slot for a newly leased sender and start its send loop, after one second of
        silence (what the previous holder sent in its last second is unknown).

        Raises ``LookupError`` or ``ValueError`` when the sender's configuration cannot send.
        """
        http = self._http_client(sender.rate_per_second)
        try:
            provider = self._provider_factory(sender.provider, http)
            account = sender.account(self._environ, self._settings.credential_variables)
        except (LookupError, ValueError):
            await http.close()
            raise
        slot = SenderSlot(
            sender=sender,
            provider=provider,
            account=account,
            limiter=SendRateLimiter(
                sender.rate_per_second,
                self._settings.spacing_jitter,
                self._rng,
                not_before=self._monotonic() + 1.0,
            ),
            day=today,
            sent_today=sent_today,
            cap_today=cap_for(sender, today, self._settings.warmup_daily_caps),
            lease_deadline=lease_deadline,
            http=http,
        )
        slot.task = asyncio.create_task(self.drive(slot))
        return slot

    def forget(self, slot: SenderSlot) -> None:
        """Stop a slot's send loop and close its HTTP session in the background."""
        if slot.task:
            slot.task.cancel()
        if slot.http:
            self._keep(asyncio.create_task(slot.http.close()))

    async def stop(self, slots: Collection[SenderSlot]) -> None:
        """Wait for the sends in flight (bounded by the provider timeout), then end every loop."""
        if self._tasks:
            await asyncio.wait(
                set(self._tasks), timeout=self._settings.provider_timeout_seconds + 1
            )
        for slot in slots:
            if slot.task:
                slot.task.cancel()
            if slot.http:
                await slot.http.close()

    def _keep(self, task: asyncio.Task) -> None:
        """Hold a reference until ``task`` ends, so it is neither collected nor forgotten."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _http_client(self, rate_per_second: int) -> ConnectionPool:
        """A session of the sender's own, its pool sized to the sender's rate.

        One session per sender rather than one for the process: a slow or stuck provider
        number holds only its own connections, never another sender's, and a sender never
        needs more connections than the sends its window lets fly at once. (A single shared
        session measured no cheaper per send.)
        """
        size = max(4, min(self._settings.http_connections_per_sender, rate_per_second))
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return open_session(size, self._settings.provider_timeout_seconds, self._tls)

    # --- sending ---------------------------------------------------------------------------

    async def drive(self, slot: SenderSlot) -> None:
        """Send this sender's claimed messages, most urgent first, as fast as its limits allow."""
        while True:
            if slot.state != ACTIVE or not slot.buffer:
                slot.wake.clear()
                await slot.wake.wait()
                continue
            mono = self._monotonic()
            if mono >= slot.lease_deadline:
                # The lease may be gone: only its holder may send.
                release_buffer(slot, self._clock(), self._recipients, self._results)
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
            if self._in_flight >= self._call_cap(slot):
                # Backpressure: the replica has all the calls it can carry; wait for answers,
                # or for an urgent message, which may use the reserve (a claim wakes the slot).
                self._waiting_for_room[slot.sender_id] = slot
                slot.wake.clear()
                await slot.wake.wait()
                continue
            if slot.cap_today is not None and slot.sent_today >= slot.cap_today:
                tomorrow = next_day_start(self._clock(), self._settings.time_zone)
                release_buffer(
                    slot, self._clock(), self._recipients, self._results, tomorrow, "sender_daily"
                )
                continue
            message, lease_ends = slot.pop()
            self._launch(slot, message, lease_ends, mono)

    def _call_cap(self, slot: SenderSlot) -> int:
        """Calls in flight past which ``slot`` waits; an urgent message may use the reserve."""
        cap = self._settings.max_in_flight
        if slot.head_priority() >= self._settings.urgent_priority:
            cap += self._settings.urgent_in_flight_reserve
        return cap

    def _launch(
        self, slot: SenderSlot, message: ClaimedMessage, lease_ends: float, mono: float
    ) -> None:
        """Start the send of ``message``, or hand it back if its lease may not outlast the call."""
        typing_ms = (
            typing_duration_ms(message.body, self._rng) if self._settings.typing_indicator else 0
        )
        # Start only while the message's lease outlasts the longest possible call: past that,
        # another replica may reclaim and send it, and a late start would be a second send.
        longest_call = (
            self._settings.provider_timeout_seconds + typing_ms / 1000 + LEASE_MARGIN_SECONDS
        )
        if mono + longest_call > lease_ends:
            self._recipients.released(message.phone)
            self._results.put_back(
                PendingSettlement(
                    wait_until(message, self._clock(), self._clock(), False),
                    message,
                    returns_quota=holds_campaign_quota(message),
                )
            )
            metrics.LIMIT_WAITS.labels("lease_too_short").inc()
            return
        slot.limiter.started(mono)
        slot.sent_today += 1
        slot.in_flight += 1
        self._in_flight += 1
        self._results.held[message.message_id] = lease_ends
        self._keep(asyncio.create_task(self._send(slot, message, typing_ms)))

    async def _confirmed(self, slot: SenderSlot, message: ClaimedMessage) -> bool:
        """Whether a launched follow-up may still go; if not, its launch is undone (cancelled in
        the database, or back in line when the check itself failed)."""
        if self.confirm_automatic is None or message.kind not in AUTOMATIC_KINDS:
            return True
        try:
            if await self.confirm_automatic(message):
                return True
            metrics.LIMIT_WAITS.labels("conversation_moved_on").inc()
            self._undo_launch(slot, message)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("follow-up not confirmed; back in line", error=str(exc))
            self._undo_launch(slot, message)
            now = self._clock()
            self._results.put_back(
                PendingSettlement(
                    wait_until(message, now, now, False),
                    message,
                    returns_quota=holds_campaign_quota(message),
                )
            )
        return False

    def _undo_launch(self, slot: SenderSlot, message: ClaimedMessage) -> None:
        """Give back what ``_launch`` took for a call that is not made."""
        slot.limiter.finished(self._monotonic())
        slot.sent_today -= 1
        slot.in_flight -= 1
        self._in_flight -= 1
        self._results.held.pop(message.message_id, None)
        self._recipients.released(message.phone)
        self._wake_waiting_for_room()
        slot.wake.set()

    def _wake_waiting_for_room(self) -> None:
        if self._in_flight < self._settings.max_in_flight and self._waiting_for_room:
            for waiting in self._waiting_for_room.values():
                waiting.wake.set()
            self._waiting_for_room.clear()

    async def _send(self, slot: SenderSlot, message: ClaimedMessage, typing_ms: int) -> None:
        if not await self._confirmed(slot, message):
            return
        outgoing = OutgoingText(
            message.message_id,
            message.phone,
            message.body,
            typing_ms,
            template=message.template if message.as_template else None,
        )
        if tracing_exported():
            # A child of the span that queued the message (its request's trace), kept with the
            # row since intake: the claim loop itself runs in no request's context.
            with tracer.start_as_current_span(
                "dispatcher.send",
                context=context_of(message.trace_context),
                kind=trace.SpanKind.CLIENT,
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
                # What follows (the flush's event, the provider's statuses) descends from here.
                message.trace_context = pack_context(span.get_span_context()) or (
                    message.trace_context
                )
        else:
            # Nothing reads spans in this process: a span per send would cost ~10% of the
            # replica's CPU for nothing (measured with py-spy under ``disparo bench dispatch``).
            result = await self._call_provider(slot, outgoing)
        finished_at = self._clock()
        slot.limiter.finished(self._monotonic())
        slot.in_flight -= 1
        self._in_flight -= 1
        self._wake_waiting_for_room()
        self._recipients.answered(message.phone, finished_at)
        if (
            isinstance(result, Rejected)
            and result.failure is FailureClass.PAUSE_SENDER
            and slot.state == ACTIVE
        ):
            log.warning(
                "provider flagged the sender; pausing it", sender=slot.sender_id, code=result.code
            )
            self._placement.without({slot.sender_id})
            stop_slot(slot, self._clock(), self._recipients, self._results)
        slot.wake.set()
        self._results.add_outcome(Outcome(slot.sender_id, message, result, finished_at))

    async def _call_provider(self, slot: SenderSlot, outgoing: OutgoingText) -> SendResult:
        try:
            return await slot.provider.send_text(slot.account, outgoing)
        except Exception as exc:  # adapters promise not to raise; one that does must not strand
            log.exception("provider adapter raised", sender=slot.sender_id)
            return Rejected(FailureClass.TRANSIENT, "adapter_error", repr(exc)[:300])
