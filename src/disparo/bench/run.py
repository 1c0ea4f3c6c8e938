"""One dispatch benchmark run: start everything, load the queue, watch it drain, collect evidence.

The sequence: servers (fresh database and stream prefix), the simulator, N dispatcher replicas;
the campaign backlog published to JetStream; once the dispatcher has enqueued it, the urgent
replies trickle in, spread over the time the backlog should still take; with ``kills``, one
replica is ``kill -9``-ed and restarted at intervals meanwhile. The run ends when every message
is finished in the queue (sent, dead or cancelled), or at the deadline. Every wait is bounded
and everything started is stopped, in reverse order, whatever happened.
"""

import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import nats

from disparo.bench.analysis import QueueSample, Send
from disparo.bench.claim_counters import ClaimCounters, bucket_quantile
from disparo.bench.cpu import CpuMeter
from disparo.bench.load import CampaignLoad, Serialized, publish, urgent_command
from disparo.bench.pg_clients import PostgresReading, postgres_cpu_by_client, read_postgres
from disparo.bench.reporting_lag import ReportingWatch
from disparo.bench.servers import BenchServers, bench_servers
from disparo.bench.stack import (
    FAULT_SIMULATOR_HOLD_SECONDS,
    LogFiles,
    StackShape,
    bench_process_specs,
    dispatcher_overrides,
    inherited_dispatcher_env,
)
from disparo.processes import ManagedProcess, stop_all
from disparo_dispatcher.spec import SPEC as DISPATCHER
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "dispatch.sql")
FAULTS = {
    "error_5xx_rate": 0.10,
    "timeout_rate": 0.02,
    "permanent_rate": 0.01,
    "timeout_seconds": FAULT_SIMULATOR_HOLD_SECONDS,
}
POLL_SECONDS = 1.0
INTAKE_URGENT_SECONDS = 0.25  # between urgent replies published during the intake
COUNT_SECONDS = 10.0  # between full counts of the queue table (see DispatchBench._count)
READY_TIMEOUT_SECONDS = 90.0


class BenchFailed(RuntimeError):
    """The run could not complete (a process died, a wait timed out); the message says why."""


@dataclass(frozen=True)
class BenchOptions:
    """Everything one run is asked to do."""

    messages: int
    senders: int
    rate_per_second: int
    replicas: int
    dialect: str
    typing_indicator: bool
    urgent: int
    webhooks: bool
    faults: bool
    kills: int
    timeout_seconds: float
    batch_size: int
    max_attempts: int
    database_url: str | None
    nats_url: str | None
    reporting: int = 0  # reporting replicas to run and watch (0: reporting is not started)
    intake_urgent: int = 0  # urgent replies published while the backlog is being persisted

    @property
    def allowed_per_second(self) -> int:
        return self.senders * self.rate_per_second

    def shape(self) -> StackShape:
        return StackShape(
            senders=self.senders,
            rate_per_second=self.rate_per_second,
            dialect=self.dialect,
            replicas=self.replicas,
            typing_indicator=self.typing_indicator,
            webhooks=self.webhooks,
            faults=self.faults,
            kills=self.kills > 0,
            reporting=self.reporting,
        )


@dataclass
class Progress:
    """What the watcher last saw, shared with the injector and the killer."""

    started: float = field(default_factory=time.monotonic)
    accepted: int = 0  # simulator, all accepted sends
    queued_rows: int = 0  # messages the dispatcher holds
    pending: int = 0  # of which not finished
    sent: int = 0
    dead: int = 0
    ingested_at: float | None = None  # monotonic time the whole backlog was in the queue
    ingested_unix: float | None = None  # the same moment, unix seconds (the send log's clock)
    drained: bool = False
    webhook_backlog_max: int = 0  # the simulator's largest queue of webhooks not yet posted
    samples: deque = field(default_factory=lambda: deque(maxlen=6))  # (monotonic, accepted)

    def rate(self, fallback: float) -> float:
        """Accepted sends per second over the last few polls; ``fallback`` before there are."""
        if len(self.samples) < 2:
            return fallback
        (t0, a0), (t1, a1) = self.samples[0], self.samples[-1]
        if t1 <= t0 or a1 <= a0:
            return fallback
        return (a1 - a0) / (t1 - t0)

    def seconds_left(self, expected: int, fallback_rate: float) -> float:
        """How long the rest of the backlog should take at the recent pace."""
        remaining = max(0, expected - self.sent - self.dead)
        return remaining / max(1.0, self.rate(fallback_rate))


@dataclass
class RunEvidence:
    """Everything collected at the end of a run, for ``report`` to turn into figures."""

    options: BenchOptions
    dispatcher_env: dict[str, str]
    servers_embedded: bool
    campaign_ids: set[str]
    urgent_published_at: dict[str, float]
    publish_seconds: float  # time to hand the whole backlog to JetStream
    ingest_seconds: float | None  # from first publish until the dispatcher held it all
    drain_seconds: float  # from first publish until every message was finished
    completed: bool
    kills_done: int
    cpu_seconds: dict[str, float]
    simulator_stats: dict
    sends: list[Send]
    permanent_ids: set[str]  # message ids the simulator refused for good
    queue_states: dict[str, str]
    dead_codes: dict[str, str]
    dead_reasons: list[dict]
    retried_and_sent: dict
    urgent_enqueued_at: dict[str, float]  # message id → unix seconds it entered the queue
    log_dir: Path
    notes: list[str]
    queue_samples: list[QueueSample] = field(default_factory=list)  # one per poll
    claimed_by_replica: dict[str, float] = field(default_factory=dict)
    # p50/p99 of the urgent consumer's wait (JetStream → handler) and handler, as bucket bounds
    urgent_intake: dict[str, float | None] = field(default_factory=dict)
    senders_by_replica: dict[str, float] = field(default_factory=dict)  # leases held, averaged
    reporting: dict = field(default_factory=dict)  # ReportingWatch.summary, with --reporting
    queue_tables: dict = field(default_factory=dict)  # hot table and archive at the end
    intake_urgent_ids: set[str] = field(default_factory=set)  # published during the intake
    ingested_unix: float | None = None  # when the whole backlog was in the queue (unix s)


class DispatchBench:
    """One run; ``say`` reports progress (to stderr, so ``--json`` keeps stdout clean)."""

    def __init__(self, options: BenchOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.progress = Progress()
        self.meter = CpuMeter()
        self._postgres_before: PostgresReading | None = None
        self.work_dir = Path(tempfile.mkdtemp(prefix="disparo-bench-"))
        self.logs = LogFiles(self.work_dir / "logs")
        self.deadline = time.monotonic() + options.timeout_seconds
        self.simulator: ManagedProcess | None = None
        self.dispatchers: list[ManagedProcess] = []
        self.reporting: list[ManagedProcess] = []
        self.reporting_watch: ReportingWatch | None = None
        self.kills_done = 0
        self.notes: list[str] = []
        self.urgent_published_at: dict[str, float] = {}
        self.claim_counters = ClaimCounters()
        self.queue_samples: list[QueueSample] = []
        self.lease_samples: list[dict[str, int]] = []  # replica id → senders held, per poll
        self._counted_at = float("-inf")
        self._urgent_done = asyncio.Event()
        self._ingested = asyncio.Event()
        self.intake_urgent_ids: set[str] = set()
        self._stopping = False

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> RunEvidence:
        try:
            async with bench_servers(
                self.options.database_url, self.options.nats_url, self.work_dir, self.say
            ) as servers:
                try:
                    return await self._run(servers)
                finally:
                    self._stop_processes()
        finally:
            self.logs.close()

    async def _run(self, servers: BenchServers) -> RunEvidence:
        options = self.options
        simulator_spec, dispatcher_specs, reporting_specs = bench_process_specs(
            options.shape(), servers.database_url, servers.nats_url, servers.stream_prefix
        )
        self.simulator = ManagedProcess(simulator_spec, self.logs)
        self.simulator.start()
        await self._ready(self.simulator)
        async with (
            httpx.AsyncClient(base_url=simulator_spec.url, timeout=60.0) as simulator,
            contextlib.AsyncExitStack() as stack,
        ):
            if options.faults:
                (await simulator.put("/_sim/faults", json=FAULTS)).raise_for_status()
                self.say(f"simulator faults: {FAULTS}")
            self.dispatchers = [ManagedProcess(spec, self.logs) for spec in dispatcher_specs]
            for process in self.dispatchers:
                process.start()
            self.reporting = [ManagedProcess(spec, self.logs) for spec in reporting_specs]
            for process in self.reporting:
                process.start()
            for process in [*self.dispatchers, *self.reporting]:
                await self._ready(process)
            self.say(
                f"simulator and {len(self.dispatchers)} dispatcher(s) ready; "
                f"logs in {self.logs.folder}"
            )

            # No JIT, as the services run: its compiling would count as Postgres CPU.
            db = await asyncpg.connect(
                servers.database_url,
                server_settings={"search_path": DISPATCHER.schema, "jit": "off"},
            )
            stack.push_async_callback(db.close)
            nc = await nats.connect(servers.nats_url, connect_timeout=5, max_reconnect_attempts=5)
            stack.push_async_callback(nc.close)
            js = nc.jetstream()

            campaign = CampaignLoad(
                options.messages,
                options.batch_size,
                options.max_attempts,
                uuid.uuid4(),
                datetime.now(UTC),
            )
            commands: list[Serialized] = []
            campaign_ids: set[str] = set()
            for command in campaign.commands():
                commands.append(Serialized.of(command))
                campaign_ids.update(str(m.message_id) for m in command.messages)
            expected = options.messages + options.urgent

            self._watch_cpu(servers)
            self.progress = Progress()
            if self.reporting:
                self.reporting_watch = ReportingWatch(started=self.progress.started)
            during_intake = asyncio.create_task(
                self._inject_urgent_during_intake(js, servers.stream_prefix)
            )
            for command in commands:
                await publish(js, servers.stream_prefix, command)
            commands.clear()  # published: their bytes are not needed again
            publish_seconds = time.monotonic() - self.progress.started
            self.say(f"{options.messages:,} campaign messages published in {publish_seconds:.1f}s")

            tasks = [
                asyncio.create_task(self._inject_urgent(js, servers.stream_prefix)),
                during_intake,
            ]
            if options.kills:
                tasks.append(asyncio.create_task(self._kill_and_restart()))
            completed = False
            try:
                completed = await self._watch(simulator, db, expected, tasks)
            finally:
                self._stopping = True
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            drain_seconds = time.monotonic() - self.progress.started
            if self.reporting_watch is not None and completed:
                await self._reporting_catch_up(db)
            if options.webhooks:
                self.notes.append(
                    "largest simulator webhook backlog seen: "
                    f"{self.progress.webhook_backlog_max:,} events"
                )
            cpu_seconds = {**self.meter.finish(), **self._postgres_split(servers)}
            ingest_seconds = (
                self.progress.ingested_at - self.progress.started
                if self.progress.ingested_at is not None
                else None
            )
            collected = await self._collect(simulator, db)
            return RunEvidence(
                options=options,
                dispatcher_env={
                    **inherited_dispatcher_env(),
                    **dispatcher_overrides(options.shape()),
                },
                servers_embedded=servers.embedded,
                campaign_ids=campaign_ids,
                urgent_published_at=dict(self.urgent_published_at),
                intake_urgent_ids=set(self.intake_urgent_ids),
                ingested_unix=self.progress.ingested_unix,
                publish_seconds=publish_seconds,
                ingest_seconds=ingest_seconds,
                drain_seconds=drain_seconds,
                completed=completed,
                kills_done=self.kills_done,
                cpu_seconds=cpu_seconds,
                log_dir=self.logs.folder,
                notes=self.notes,
                queue_samples=self.queue_samples,
                claimed_by_replica=self.claim_counters.by_replica(),
                urgent_intake=_urgent_intake(self.claim_counters.totals()),
                senders_by_replica=_average_holdings(self.lease_samples),
                reporting=(
                    self.reporting_watch.summary(cpu_seconds.get("reporting"))
                    if self.reporting_watch is not None
                    else {}
                ),
                **collected,
            )

    # -- processes ---------------------------------------------------------------------------

    async def _ready(self, process: ManagedProcess) -> None:
        timeout = max(1.0, min(READY_TIMEOUT_SECONDS, self.deadline - time.monotonic()))
        await asyncio.to_thread(process.wait_ready, timeout, lambda: self._stopping)

    def _watch_cpu(self, servers: BenchServers) -> None:
        for process in self.dispatchers:
            self.meter.watch("dispatcher", process.pid)
        if self.simulator is not None:
            self.meter.watch("simulator", self.simulator.pid)
        for process in self.reporting:
            self.meter.watch("reporting", process.pid)
        self.meter.watch("postgres", servers.postgres_pid)
        if servers.postgres_pid is not None:
            self._postgres_before = read_postgres(servers.postgres_pid, self._postgres_clients())
        self.meter.watch("nats", servers.nats_pid)
        self.meter.watch("benchmark", os.getpid(), tree=False)
        if not servers.embedded:
            self.notes.append(
                "Postgres/NATS come from DATABASE_URL/NATS_URL: their CPU (when visible) "
                "includes every other client of those servers."
            )

    def _postgres_clients(self) -> dict[str, int]:
        """Each process that holds Postgres connections, under a name of its own."""
        clients = {f"dispatcher {i}": process.pid for i, process in enumerate(self.dispatchers)}
        clients |= {f"reporting {i}": process.pid for i, process in enumerate(self.reporting)}
        return {**clients, "benchmark": os.getpid()}

    def _postgres_split(self, servers: BenchServers) -> dict[str, float]:
        """Postgres CPU by the client it served (``postgres: dispatcher``…): the benchmark's own
        counts are not the queue's cost. ``postgres: other`` is autovacuum, the WAL writer,
        checkpoints, and backends that ended during the run (those of a killed replica)."""
        if servers.postgres_pid is None or self._postgres_before is None:
            return {}
        after = read_postgres(servers.postgres_pid, self._postgres_clients())
        spent: dict[str, float] = {}
        for client, seconds in postgres_cpu_by_client(self._postgres_before, after).items():
            group = f"postgres: {client.split(' ')[0]}"
            spent[group] = spent.get(group, 0.0) + seconds
        return spent

    def _stop_processes(self) -> None:
        self._stopping = True
        stop_all(self.dispatchers, grace_seconds=15.0)
        stop_all(self.reporting, grace_seconds=15.0)
        if self.simulator is not None:
            stop_all([self.simulator], grace_seconds=5.0)

    def _check_alive(self) -> None:
        for process in [self.simulator, *self.dispatchers, *self.reporting]:
            if process is not None and process.returncode is not None and not process.stopping:
                raise BenchFailed(
                    f"{process.name} exited with code {process.returncode}:\n"
                    f"{process.last_output()}"
                )

    # -- load --------------------------------------------------------------------------------

    async def _inject_urgent(self, js, stream_prefix: str) -> None:
        """Publish the urgent replies one by one once the backlog is enqueued, spread over the
        time the backlog should still take (80% of it), so each one has a queue to jump."""
        options = self.options
        try:
            await self._ingested.wait()
            for index in range(options.urgent):
                command = urgent_command(index, options.max_attempts)
                message_id = str(command.messages[0].message_id)
                self.urgent_published_at[message_id] = await publish(js, stream_prefix, command)
                left = options.urgent - index - 1
                if left:
                    seconds_left = self.progress.seconds_left(
                        options.messages, options.allowed_per_second
                    )
                    await asyncio.sleep(min(2.0, max(0.005, 0.8 * seconds_left / left)))
        finally:
            self._urgent_done.set()

    async def _inject_urgent_during_intake(self, js, stream_prefix: str) -> None:
        """Publish up to ``intake_urgent`` urgent replies, one every ``INTAKE_URGENT_SECONDS``,
        while the backlog is being persisted: a doctor's answer must not wait for a campaign's
        intake. They count with the other urgent replies, and apart as "during intake"."""
        options = self.options
        for index in range(options.intake_urgent):
            if self._ingested.is_set() or self._stopping:
                return
            command = urgent_command(options.urgent + index, options.max_attempts)
            message_id = str(command.messages[0].message_id)
            self.intake_urgent_ids.add(message_id)
            self.urgent_published_at[message_id] = await publish(js, stream_prefix, command)
            await asyncio.sleep(INTAKE_URGENT_SECONDS)

    async def _kill_and_restart(self) -> None:
        """``kill -9`` the last replica ``kills`` times, spread over the backlog's remaining
        time, restarting it each time once it is dead."""
        options = self.options
        victim = self.dispatchers[-1]
        for done in range(options.kills):
            seconds_left = self.progress.seconds_left(
                options.messages + options.urgent, options.allowed_per_second
            )
            await asyncio.sleep(min(30.0, max(1.0, seconds_left / (options.kills - done + 1))))
            if self.progress.drained:
                self.notes.append(
                    f"the backlog drained after {done} of {options.kills} kills; no more kills"
                )
                return
            self.meter.retire(victim.pid)
            await asyncio.to_thread(victim.kill)
            self.kills_done += 1
            self.say(f"kill -9 {victim.name} ({self.kills_done}/{options.kills}); restarting")
            victim.start()
            self.meter.watch("dispatcher", victim.pid, from_zero=True)
            await self._ready(victim)

    # -- watching ----------------------------------------------------------------------------

    async def _watch(
        self,
        simulator: httpx.AsyncClient,
        db: asyncpg.Connection,
        expected: int,
        tasks: list[asyncio.Task],
    ) -> bool:
        """Poll until every message is finished in the queue; False at the deadline."""
        options = self.options
        last_said = 0.0
        while True:
            self._check_alive()
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise BenchFailed(f"a benchmark task failed: {task.exception()!r}")
            now = time.monotonic()
            stats = (await simulator.get("/_sim/stats")).json()
            await self.claim_counters.poll(
                simulator, {p.name: p.spec.url for p in self.dispatchers}
            )
            progress = self.progress
            progress.accepted = stats["accepted"]
            progress.samples.append((now, progress.accepted))
            everything = expected + len(self.intake_urgent_ids)
            await self._count(db, now, everything)
            if progress.pending:
                holders = await db.fetch(SQL.sender_holders)
                self.lease_samples.append({r["replica"]: r["senders"] for r in holders})
            self._sample(now)
            if self.reporting_watch is not None:
                await self.reporting_watch.sample(db, progress.accepted, now)
            progress.webhook_backlog_max = max(
                progress.webhook_backlog_max, int(stats.get("webhook_backlog", 0))
            )
            backlog = options.messages + len(self.intake_urgent_ids)
            if progress.ingested_at is None and progress.queued_rows >= backlog:
                progress.ingested_at = now
                progress.ingested_unix = time.time()
                self._ingested.set()
                self.say(
                    f"backlog enqueued after {now - progress.started:.1f}s "
                    f"({progress.sent:,} already sent)"
                )
            urgent_done = self._urgent_done.is_set()
            if urgent_done and progress.queued_rows >= everything and progress.pending == 0:
                progress.drained = True
                kill_tasks = tasks[2:]
                if all(task.done() for task in kill_tasks):
                    self.say(f"drained after {now - progress.started:.1f}s")
                    return True
            if now - last_said >= 5.0:
                last_said = now
                self.say(
                    f"t={now - progress.started:5.1f}s accepted {progress.accepted:,} "
                    f"({progress.rate(0):,.0f}/s) queue {progress.queued_rows:,} "
                    f"pending {progress.pending:,} sent {progress.sent:,} dead {progress.dead:,}"
                    f" violations {stats['violations']}"
                    + (
                        f" webhook backlog {stats.get('webhook_backlog', 0):,}"
                        if options.webhooks
                        else ""
                    )
                )
            if now > self.deadline:
                self.notes.append(
                    f"timed out after {options.timeout_seconds:.0f}s with "
                    f"{progress.pending:,} messages pending and "
                    f"{max(0, everything - progress.queued_rows):,} not yet enqueued"
                )
                self.say(self.notes[-1])
                return False
            await asyncio.sleep(POLL_SECONDS)

    async def _reporting_catch_up(self, db: asyncpg.Connection) -> None:
        """After the queue drained: wait until reporting shows every accepted send as sent."""
        watch = self.reporting_watch
        assert watch is not None
        accepted = await self._accepted_sent(db)
        self.say(f"waiting for reporting to project {accepted:,} sends")
        if not await watch.catch_up(db, accepted, time.monotonic(), self.deadline):
            self.notes.append("reporting had not projected every send by the deadline")
        else:
            self.say(f"reporting caught up after {watch.caught_up_at:.1f}s")

    async def _accepted_sent(self, db: asyncpg.Connection) -> int:
        row = await db.fetchrow(SQL.queue_progress)
        return int(row["sent"])

    async def _count(self, db: asyncpg.Connection, now: float, expected: int) -> None:
        """Count the queue's rows by state when it matters: every ``COUNT_SECONDS``, when the
        intake looks complete, and near the end. A full count of a million rows takes most of
        a second of one Postgres backend; counted every poll it would weigh on the very claims
        being measured."""
        progress = self.progress
        inserted = await db.fetchval(SQL.messages_inserted)
        if progress.ingested_at is None:
            progress.queued_rows = max(progress.queued_rows, min(inserted, expected))
        due = (
            now - self._counted_at >= COUNT_SECONDS
            or (progress.ingested_at is None and inserted >= self.options.messages)
            or progress.accepted + progress.dead >= expected
        )
        if not due:
            return
        row = await db.fetchrow(SQL.queue_progress)
        self._counted_at = now
        progress.queued_rows, progress.pending = row["total"], row["pending"]
        progress.sent, progress.dead = row["sent"], row["dead"]

    def _sample(self, now: float) -> None:
        progress, claims = self.progress, self.claim_counters.totals()
        self.queue_samples.append(
            QueueSample(
                at=now - progress.started,
                queued=progress.queued_rows,
                pending=progress.pending,
                accepted=progress.accepted,
                claims=int(claims["claims"]),
                claim_seconds=claims["claim_seconds"],
                claimed=int(claims["claimed"]),
                lag_samples=int(claims["lag_samples"]),
                lag_seconds=claims["lag_seconds"],
                lag_on_time=int(claims["lag_on_time"]),
            )
        )

    async def _collect(self, simulator: httpx.AsyncClient, db: asyncpg.Connection) -> dict:
        """Read the simulator's log and stats and the queue's final states."""
        await asyncio.sleep(0.5)  # let in-flight webhooks and flushes land
        stats = (await simulator.get("/_sim/stats")).json()
        sends = await _accepted_sends(simulator)
        permanent = (await simulator.get("/_sim/permanent-failures")).json()["message_ids"]
        rows = await db.fetch(SQL.message_states)
        return {
            "simulator_stats": stats,
            "sends": sends,
            "permanent_ids": set(permanent),
            "queue_states": {r["message_id"]: r["state"] for r in rows},
            "dead_codes": {
                r["message_id"]: r["last_error_code"] for r in rows if r["state"] == "dead"
            },
            "dead_reasons": [dict(r) for r in await db.fetch(SQL.dead_reasons)],
            "retried_and_sent": dict(await db.fetchrow(SQL.retried_and_sent)),
            "queue_tables": dict(await db.fetchrow(SQL.queue_tables)),
            "urgent_enqueued_at": {
                r["message_id"]: r["enqueued_at"] for r in await db.fetch(SQL.urgent_enqueued_at)
            },
        }


def _urgent_intake(totals: dict[str, float]) -> dict[str, float | None]:
    return {
        f"{part}_p{round(quantile * 100)}_s": bucket_quantile(totals, part, quantile)
        for part in ("wait", "handler")
        for quantile in (0.5, 0.99)
    }


SENDS_PAGE = 100_000


async def _accepted_sends(simulator: httpx.AsyncClient) -> list[Send]:
    """The simulator's send log, a page at a time: five million sends in one answer would take the
    simulator and the bench several gigabytes each, on a machine also running the queue."""
    sends: list[Send] = []
    while True:
        answer = await simulator.get(
            "/_sim/sends", params={"offset": len(sends), "count": SENDS_PAGE}
        )
        answer.raise_for_status()
        page = answer.json()
        sends += [Send(s.get("message_id"), s["sender"], float(s["accepted_at"])) for s in page]
        if len(page) < SENDS_PAGE:
            return sends


def _average_holdings(samples: list[dict[str, int]]) -> dict[str, float]:
    """Senders each replica held, averaged over the polls while there was work: a replica's
    share of the numbers (a replica missing from a poll held none then)."""
    if not samples:
        return {}
    replicas = {replica for sample in samples for replica in sample}
    return {
        replica: sum(sample.get(replica, 0) for sample in samples) / len(samples)
        for replica in sorted(replicas)
    }
