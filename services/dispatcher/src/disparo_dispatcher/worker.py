"""The send loop of one dispatcher replica: lease senders, claim, pace, send, record.

Seven loops share one process, each in its own module:

- **leases** (``leasing``, every ``sender_lease_renew_seconds``): beat, renew this replica's
  sender leases, give back or take senders to hold a fair share, reclaim messages a dead replica
  left 'sending', move messages off senders that cannot send;
- **claim** (``claiming``, every ``claim_interval_seconds``): one statement leases, for every
  held sender, as many due messages as it can send in the next ``claim_lookahead_seconds`` (most
  urgent first), then the send-time rules (``admission``) put back those that must wait;
- **per sender** (``sending``): pops its most urgent claimed message (``slots``) when its
  ``SendRateLimiter`` allows and sends it through the provider — many sends in flight;
- **flush** (``recording``, every ``flush_interval_seconds``): writes every finished attempt of
  the interval (``results``) in one transaction — sent rows, settlements, recipients' pacing,
  paused senders, opt-outs and their events — so the database sees a few statements per batch,
  not per message;
- **doubts** (every ``in_doubt_resolve_interval_seconds``): settles sends whose outcome is
  unknown by the providers' sent-echoes, their search of what they sent, or the kind's policy
  (``in_doubt``), and prunes old echoes;
- **table care** (``table_care``, every ``table_care_interval_seconds``): vacuums and analyses
  the hot tables when autovacuum has not, so the claim's cost does not grow with the backlog;
- **archive** (``archive``, every ``archive_interval_seconds``): moves messages finished more
  than ``archive_after_seconds`` ago out of the hot table, so it holds the backlog, not the day.

Crash safety: a claimed message is 'sending' with a lease in Postgres until its outcome is
written. If the replica dies between the provider's answer and the flush, the message's lease
expires and the sender's next holder moves it to 'in_doubt' (``reclaim_sending_as=resolve``,
the default): the provider's sent-echo or its search of what it sent then says whether it went
out, and only a message the provider never took is sent again; where nothing can tell, the
kind's policy decides (campaigns held for a person, replies sent again: ``doubt_policy``). A call
that timed out is in doubt the same way, since the provider may have taken it.
``reclaim_sending_as=retry`` puts reclaimed messages straight back in line (at least once: the
provider may have sent them), and ``dead`` chooses at-most-once (they wait, dead with
``lease_expired``, for a person to re-queue). A clean stop
(SIGTERM) drains in-flight sends and flushes before giving its leases back, so only a hard kill
leaves anything to reclaim.
"""

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from uuid import uuid4

import asyncpg

from disparo_dispatcher import (
    archive,
    automatic_messages,
    in_doubt,
    metrics,
    queue,
    senders,
    table_care,
    tiers,
)
from disparo_dispatcher.admission import AdmissionRules
from disparo_dispatcher.claiming import Claimer
from disparo_dispatcher.clock import Clock, Monotonic, utc_now
from disparo_dispatcher.leasing import LeaseKeeper
from disparo_dispatcher.operator_gauges import (
    QueueReading,
    set_cloud_number_gauges,
    set_operator_gauges,
    set_sender_usage,
)
from disparo_dispatcher.providers.connections import ConnectionPool
from disparo_dispatcher.providers.registry import get_provider
from disparo_dispatcher.providers.sent_lookup import find_sent
from disparo_dispatcher.providers.transport import open_session
from disparo_dispatcher.quiet_hours import SendWindow
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.recording import Recorder
from disparo_dispatcher.results import Results
from disparo_dispatcher.senders import PlacementCache
from disparo_dispatcher.sending import ProviderFactory, SendDriver
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.slots import DRAINING, SenderSlot, release_buffer
from disparo_shared.logging import get_logger

log = get_logger(__name__)

ECHO_PRUNE_EVERY = 60  # resolver passes between two prunes of old echoes
LOOKUP_CONNECTIONS = 16  # per provider host, for searches of what a provider sent
# The gauges count the whole backlog (most of a second of a Postgres backend at a million
# messages): at most this share of the time, so a big backlog slows their refresh, not the claims.
GAUGE_MAX_SHARE = 0.05


def pause_after(seconds: float, took: float, max_share: float) -> float:
    """The pause after a tick that ``took`` seconds: ``seconds``, or longer so that ticks take
    at most ``max_share`` of the time. ``pause_after(5, 0.6, 0.05)`` is 11.4."""
    return max(seconds, took / max_share - took)


Tick = Callable[[asyncpg.Pool], Awaitable[object]]


def admission_rules(settings: DispatcherSettings) -> AdmissionRules:
    return AdmissionRules(
        pair_spacing_seconds=settings.pair_spacing_seconds,
        recipient_campaign_max_per_day=settings.recipient_campaign_max_per_day,
        window=send_window(settings),
        quiet_hours_exempt_kinds=frozenset(settings.quiet_hours_exempt_kinds),
        day_zone=settings.time_zone,
    )


def doubt_rules(settings: DispatcherSettings) -> in_doubt.DoubtRules:
    return in_doubt.DoubtRules(
        grace=timedelta(seconds=settings.in_doubt_grace_seconds),
        skew=timedelta(seconds=settings.echo_match_skew_seconds),
        time_zone=settings.time_zone,
        lookup_after=timedelta(seconds=settings.in_doubt_lookup_after_seconds),
        processing_horizon=timedelta(seconds=settings.provider_processing_horizon_seconds),
        policies=settings.in_doubt_policy,
        echoes_from=settings.echoes_from,
        looks_up=settings.looks_up,
    )


def send_window(settings: DispatcherSettings) -> SendWindow:
    return SendWindow(
        settings.send_window_start, settings.send_window_end, frozenset(settings.send_on_weekdays)
    )


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
        self.queue_reading: QueueReading | None = None  # the gauges' last read, for the API
        self.slots: dict[str, SenderSlot] = {}
        self._clock = clock
        rng = rng or random.Random()
        self._recipients = Recipients()
        self._results = Results(settings.flush_batch_max)
        self._driver = SendDriver(
            settings,
            placement_cache,
            self._recipients,
            self._results,
            clock=clock,
            monotonic=monotonic,
            rng=rng,
            environ=environ,
            provider_factory=provider_factory,
        )
        self._leases = LeaseKeeper(
            settings,
            self.replica_id,
            placement_cache,
            self.slots,
            self._driver,
            self._recipients,
            self._results,
            clock=clock,
            monotonic=monotonic,
        )
        self._claimer = Claimer(
            settings,
            self.replica_id,
            admission_rules(settings),
            self.slots,
            self._recipients,
            self._results,
            clock=clock,
            monotonic=monotonic,
        )
        self._recorder = Recorder(settings, placement_cache, self._results, clock=clock, rng=rng)
        self._resolver_passes = 0
        self._lookup_http: ConnectionPool | None = None

    def sending(self) -> bool:
        """Whether this replica is sending: a claim found messages within the last second."""
        return self._claimer.claimed_within(1.0)

    async def run(self, pool: asyncpg.Pool) -> None:
        """Send until cancelled; then drain in-flight sends, flush, and give the senders back."""
        async with pool.acquire() as conn:
            await senders.seed_senders(conn, self.settings.senders)
        self._driver.confirm_automatic = lambda message: automatic_messages.confirm_send(
            pool, message, self._clock()
        )
        settings = self.settings
        loops = [
            asyncio.create_task(
                self._every(settings.sender_lease_renew_seconds, self._leases.lease_tick, pool)
            ),
            asyncio.create_task(self._claimer.claim_loop(pool)),
            asyncio.create_task(self._recorder.flush_loop(pool)),
            asyncio.create_task(
                self._every(settings.in_doubt_resolve_interval_seconds, self._resolve_doubts, pool)
            ),
            asyncio.create_task(
                self._every(
                    settings.metrics_refresh_seconds,
                    self._refresh_gauges,
                    pool,
                    max_share=GAUGE_MAX_SHARE,
                )
            ),
        ]
        if settings.archive_interval_seconds > 0:
            loops.append(
                asyncio.create_task(
                    self._every(settings.archive_interval_seconds, self._archive_finished, pool)
                )
            )
        if settings.table_care_interval_seconds > 0:
            loops.append(
                asyncio.create_task(
                    self._every(settings.table_care_interval_seconds, self._tend_tables, pool)
                )
            )
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a loop only ends by raising: surface it to the supervisor
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self._stop(pool)

    async def _every(
        self, seconds: float, tick: Tick, pool: asyncpg.Pool, max_share: float = 1.0
    ) -> None:
        """Run ``tick`` every ``seconds``, or less often when it is slow: it never takes more
        than ``max_share`` of the time (a tick of 0.6 s with a share of 0.05 runs every 12 s)."""
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await tick(pool)
            except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
                log.warning(
                    "dispatcher tick failed; next one retries", tick=tick.__name__, error=str(exc)
                )
            took = asyncio.get_running_loop().time() - started
            await asyncio.sleep(pause_after(seconds, took, max_share))

    async def _stop(self, pool: asyncpg.Pool) -> None:
        for slot in self.slots.values():
            slot.state = DRAINING
            release_buffer(slot, self._clock(), self._recipients, self._results)
        await self._driver.stop(list(self.slots.values()))
        await self._recorder.flush_remaining(pool)
        await self._leases.give_back_all(pool)
        if self._lookup_http is not None:
            await self._lookup_http.close()
            self._lookup_http = None
        self.slots.clear()
        metrics.SENDERS_HELD.set(0)

    async def _resolve_doubts(self, pool: asyncpg.Pool) -> None:
        """Settle doubtful sends (echoes, the providers' search, the policies); now and then
        forget old echoes."""
        settings = self.settings
        if self._lookup_http is None:
            self._lookup_http = open_session(LOOKUP_CONNECTIONS, settings.provider_timeout_seconds)
        http = self._lookup_http
        async with pool.acquire() as conn:
            done = await in_doubt.resolve_all_in_doubt(
                conn,
                self._clock(),
                doubt_rules(settings),
                look_up=lambda account, phone: find_sent(http, account, phone),
            )
            if done.sent or done.given_up or done.held:
                log.info(
                    "doubtful sends settled",
                    sent=done.sent,
                    found_by_lookup=done.found,
                    absent_by_lookup=done.absent,
                    given_up=done.given_up,
                    held=done.held,
                )
            self._resolver_passes += 1
            if self._resolver_passes % ECHO_PRUNE_EVERY == 1:
                await in_doubt.prune_echoes(
                    conn, self._clock(), timedelta(seconds=settings.echo_retention_seconds)
                )

    async def _tend_tables(self, pool: asyncpg.Pool) -> None:
        policy = table_care.CarePolicy(
            min_rows=self.settings.table_care_min_rows, fraction=self.settings.table_care_fraction
        )
        await table_care.tend_tables(pool, policy)

    async def _archive_finished(self, pool: asyncpg.Pool) -> None:
        """Move what finished a while ago out of the hot table; tend the archive's tables."""
        settings = self.settings
        moved = await archive.archive_finished(
            pool,
            self._clock(),
            timedelta(seconds=settings.archive_after_seconds),
            settings.archive_batch_size,
        )
        if moved:
            metrics.MESSAGES_ARCHIVED.inc(moved)
        if settings.table_care_interval_seconds > 0:
            policy = table_care.CarePolicy(
                min_rows=settings.table_care_min_rows, fraction=settings.table_care_fraction
            )
            await archive.tend_archive(pool, policy)

    async def _refresh_gauges(self, pool: asyncpg.Pool) -> None:
        now = self._clock()
        async with pool.acquire() as conn:
            reading = QueueReading.from_rows(now, await queue.queue_reading(conn, now))
            dead = await queue.dead_by_code(conn)
            sender_rows = await queue.sender_states(conn)
            cloud_numbers = await queue.cloud_number_ratings(
                conn, self.settings.default_messaging_tier
            )
            tier_use = await tiers.sender_health(conn, now, self.settings.default_messaging_tier)
        self.queue_reading = reading
        metrics.QUEUE_DEPTH.clear()
        for row in reading.depth:
            metrics.QUEUE_DEPTH.labels(row["state"], str(row["priority"])).set(row["messages"])
        set_operator_gauges(reading.oldest_due, dead, sender_rows)
        set_cloud_number_gauges(cloud_numbers)
        set_sender_usage(
            [(s.sender_id, s.sent_today, s.cap_today) for s in self.slots.values()], tier_use
        )
