"""One campaigns benchmark run: import a million doctors, preview a segment, start a campaign.

Real processes and real HTTP: Postgres and NATS (from the environment or embedded, with a fresh
database and stream prefix), campaign-api and one dispatcher. The dispatcher runs with no
senders (``DISPARO_DISPATCHER_SENDERS=[]`` and an empty ``senders`` table), so it persists each
requested message into its queue (``dispatcher.messages``, state ``queued``, no sender chosen)
and sends nothing: the run measures campaign-api's fan-out and the dispatcher's intake, not
WhatsApp.

The phases, each timed from the benchmark's side:

1. import — ``contacts.fake.generate_contacts_csv`` written to a file first, then streamed from
   it as the body of ``POST /v1/contacts/import`` (chunked), until the answer;
2. previews — ``POST /v1/segments/preview`` with three conditions and an OR group, one request
   at a time;
3. campaign — ``POST /v1/campaigns`` to everyone, then from ``/start`` until the dispatcher's
   queue holds every recipient's message. The queue's count is polled every 0.5 s once the
   end is near, less often before (up to 3 s, from the pace so far): counting a million rows
   every 0.5 s cost the database ~17 CPU seconds, measured, on a machine where the system
   under test needs every core.

Peak RSS of every process is sampled every 100 ms throughout (``memory.PeakRss``), and CPU
seconds per process are read at each phase's edges. Every wait is bounded by the run's
deadline, and everything started is stopped and removed, whatever happened.
"""

import asyncio
import contextlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from disparo.bench.cpu import process_tree_cpu_seconds
from disparo.bench.memory import PeakRss
from disparo.bench.pg_clients import PostgresReading, postgres_cpu_by_client, read_postgres
from disparo.bench.servers import BenchServers, bench_servers
from disparo.bench.stack import LogFiles
from disparo.embedded import free_port
from disparo.processes import ManagedProcess, ProcessSpec, StackPorts, stack_processes, stop_all
from disparo_campaign_api.contacts.fake import generate_contacts_csv
from disparo_dispatcher.spec import SPEC as DISPATCHER
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "campaigns.sql")
CAMPAIGN_API, DISPATCHER_NAME, BENCHMARK = "campaign-api", "dispatcher", "benchmark"
READY_TIMEOUT_SECONDS = 90.0
PERSIST_POLL_SECONDS = 0.5  # the resolution of "every message is in the queue"
PERSIST_POLL_MAX_SECONDS = 3.0
BODY_CHUNK_BYTES = 256 * 1024  # ~2,800 CSV lines per write of the request body
PREVIEW_TIMEOUT_SECONDS = 30.0

# Three conditions and an OR group over the generated doctors' fields (about a fifth match).
PREVIEW_FILTER: dict[str, Any] = {
    "all": [
        {
            "field": "specialty",
            "op": "in",
            "value": ["Anestesiologia", "Clínica Médica", "Medicina Intensiva", "Pediatria"],
        },
        {"field": "region", "op": "in", "value": ["Capital SP", "ABC", "Campinas", "Curitiba"]},
        {
            "any": [
                {"field": "tags", "op": "any", "value": ["disponível", "plantão 12h"]},
                {"field": "interactions", "op": "gte", "value": 3},
            ]
        },
    ]
}
EVERYONE: dict[str, Any] = {"all": []}  # an empty AND: every contact not opted out
TEMPLATE = (
    "Olá, {nome}! Temos plantões de {especialidade} na região {regiao}. Posso te contar mais?"
)


class CampaignsBenchFailed(RuntimeError):
    """The run could not complete (a process died, a request failed); the message says why."""


@dataclass(frozen=True)
class CampaignsOptions:
    """Everything one run is asked to do."""

    contacts: int
    previews: int
    seed: int
    timeout_seconds: float
    database_url: str | None
    nats_url: str | None


@dataclass(frozen=True)
class CpuSpent:
    """CPU seconds of one phase: per process, and the database's split by client."""

    processes: dict[str, float]
    postgres_by_client: dict[str, float]


@dataclass(frozen=True)
class CpuReading:
    processes: dict[str, float]
    postgres: PostgresReading | None


@dataclass(frozen=True)
class ImportPhase:
    seconds: float
    answer: dict[str, Any]  # campaign-api's ImportAnswer
    body_bytes: int
    peak_rss_mb: dict[str, float]
    cpu: CpuSpent


@dataclass(frozen=True)
class PreviewPhase:
    latencies_seconds: list[float]
    audience_count: int
    counts_agree: bool  # every preview answered the same count
    peak_rss_mb: dict[str, float]
    cpu: CpuSpent


@dataclass(frozen=True)
class CampaignPhase:
    campaign_id: str
    audience_size: int
    start_request_seconds: float  # the /start call itself (audience snapshot)
    fanout_seconds: float | None  # start → campaign-api had requested every recipient
    persisted_seconds: float | None  # start → the dispatcher's queue held every message
    persisted: int
    states: list[dict[str, Any]]
    count_queries: int  # the benchmark's own polling of the queue, and its time
    count_query_seconds: float
    peak_rss_mb: dict[str, float]
    cpu: CpuSpent


@dataclass
class CampaignsEvidence:
    """Everything collected by a run, for ``campaigns.summarize`` to turn into figures."""

    options: CampaignsOptions
    servers_embedded: bool
    service_env: dict[str, str]
    imported: ImportPhase | None = None
    previews: PreviewPhase | None = None
    campaign: CampaignPhase | None = None
    run_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    log_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def inherited_service_env() -> dict[str, str]:
    """``DISPARO_CAMPAIGN_API_*`` / ``DISPARO_DISPATCHER_*`` of this shell: the services inherit
    them, so the report lists them with the figures they produced."""
    prefixes = ("DISPARO_CAMPAIGN_API_", "DISPARO_DISPATCHER_")
    return {k: v for k, v in os.environ.items() if k.startswith(prefixes)}


def service_specs(
    database_url: str, nats_url: str, stream_prefix: str, api_key: str
) -> tuple[ProcessSpec, ProcessSpec]:
    """campaign-api and a dispatcher without senders, wired as ``disparo dev`` wires them."""
    ports = StackPorts(*(free_port() for _ in range(5)))
    specs = {
        spec.name: spec
        for spec in stack_processes(
            ports,
            database_url,
            nats_url,
            evolution_numbers=0,
            cloud_numbers=0,
            common_env={
                "DISPARO_NATS_STREAM_PREFIX": stream_prefix,
                "DISPARO_API_KEYS": json.dumps([api_key]),
                "DISPARO_LOG_LEVEL": "WARNING",
            },
            # No senders: messages are persisted and wait in the queue, none is sent.
            extra_env={DISPATCHER_NAME: {"DISPARO_DISPATCHER_SENDERS": "[]"}},
        )
    }
    return specs[CAMPAIGN_API], specs[DISPATCHER_NAME]


def write_contacts_csv(path: Path, contacts: int, seed: int) -> int:
    """Write the generated CSV to ``path`` (before the clock starts); returns its size in bytes.

    Generating it while uploading cost ~10 µs of the benchmark's CPU per row, taken from the
    two cores the system under test runs on; a real upload comes from another machine.
    """
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(generate_contacts_csv(contacts, seed))
    return path.stat().st_size


async def file_body(path: Path) -> AsyncIterator[bytes]:
    """The file in ~256 KiB pieces, read as httpx sends them."""
    with path.open("rb") as body:
        while chunk := body.read(BODY_CHUNK_BYTES):
            yield chunk


class CampaignsBench:
    """One run; ``say`` reports progress (to stderr, so ``--json`` keeps stdout clean)."""

    def __init__(self, options: CampaignsOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.work_dir = Path(tempfile.mkdtemp(prefix="disparo-bench-campaigns-"))
        self.logs = LogFiles(self.work_dir / "logs")
        self.deadline = time.monotonic() + options.timeout_seconds
        self.api_key = secrets.token_urlsafe(24)
        self.processes: list[ManagedProcess] = []
        self.cpu_pids: dict[str, tuple[int, bool]] = {}
        self.postgres_pid: int | None = None
        self._stopping = False

    def left(self, at_most: float | None = None) -> float:
        """Seconds until the deadline (at least 1), capped at ``at_most``."""
        left = max(1.0, self.deadline - time.monotonic())
        return left if at_most is None else min(left, at_most)

    async def run(self) -> CampaignsEvidence:
        evidence = CampaignsEvidence(
            options=self.options, servers_embedded=False, service_env=inherited_service_env()
        )
        try:
            async with bench_servers(
                self.options.database_url, self.options.nats_url, self.work_dir, self.say
            ) as servers:
                evidence.servers_embedded = servers.embedded
                try:
                    with PeakRss() as memory:
                        await self._run(servers, memory, evidence)
                        evidence.run_peak_rss_mb = memory.run_peaks()
                finally:
                    self._stopping = True
                    stop_all(self.processes, grace_seconds=15.0)
        finally:
            self.logs.close()
        evidence.log_dir = self.logs.folder
        return evidence

    async def _run(
        self, servers: BenchServers, memory: PeakRss, evidence: CampaignsEvidence
    ) -> None:
        api_spec, dispatcher_spec = service_specs(
            servers.database_url, servers.nats_url, servers.stream_prefix, self.api_key
        )
        self.processes = [
            ManagedProcess(api_spec, self.logs),
            ManagedProcess(dispatcher_spec, self.logs),
        ]
        for process in self.processes:
            process.start()
        await asyncio.gather(*(self._ready(p) for p in self.processes))
        self.say(f"campaign-api and dispatcher (no senders) ready; logs in {self.logs.folder}")
        for process in self.processes:
            assert process.pid is not None  # started above
            memory.watch(process.name, process.pid)
            self.cpu_pids[process.name] = (process.pid, True)
        memory.watch(BENCHMARK, os.getpid(), tree=False)
        self.cpu_pids[BENCHMARK] = (os.getpid(), False)
        if servers.postgres_pid is not None:
            self.cpu_pids["postgres"] = (servers.postgres_pid, True)
            self.postgres_pid = servers.postgres_pid
        if servers.nats_pid is not None:
            self.cpu_pids["nats"] = (servers.nats_pid, True)
        if not servers.embedded:
            evidence.notes.append(
                "Postgres/NATS come from DATABASE_URL/NATS_URL: their CPU (when visible) "
                "includes every other client of those servers."
            )

        headers = {"X-API-Key": self.api_key}
        async with (
            httpx.AsyncClient(base_url=api_spec.url, headers=headers) as client,
            contextlib.AsyncExitStack() as stack,
        ):
            # No JIT, as the services run: its compiling would count as Postgres CPU.
            db = await asyncpg.connect(
                servers.database_url,
                server_settings={"search_path": DISPATCHER.schema, "jit": "off"},
            )
            stack.push_async_callback(db.close)
            memory.take_phase()  # start-up peaks are not the import's
            evidence.imported = await self._import(client, memory)
            evidence.previews = await self._previews(client, memory)
            evidence.campaign = await self._campaign(client, db, memory)

    # -- processes ---------------------------------------------------------------------------

    async def _ready(self, process: ManagedProcess) -> None:
        await asyncio.to_thread(
            process.wait_ready, self.left(READY_TIMEOUT_SECONDS), lambda: self._stopping
        )

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.returncode is not None and not process.stopping:
                raise CampaignsBenchFailed(
                    f"{process.name} exited with code {process.returncode}:\n"
                    f"{process.last_output()}"
                )

    def _cpu(self) -> CpuReading:
        readings = {}
        for name, (pid, tree) in self.cpu_pids.items():
            seconds = process_tree_cpu_seconds(pid, tree)
            if seconds is not None:
                readings[name] = seconds
        postgres = None
        if self.postgres_pid is not None:
            clients = {name: pid for name, (pid, _) in self.cpu_pids.items() if name != "postgres"}
            clients = {k: v for k, v in clients.items() if k != "nats"}
            postgres = read_postgres(self.postgres_pid, clients)
        return CpuReading(readings, postgres)

    @staticmethod
    def _cpu_spent(before: CpuReading, after: CpuReading) -> CpuSpent:
        processes = {
            name: round(after.processes[name] - before.processes[name], 1)
            for name in after.processes
            if name in before.processes
        }
        by_client = (
            postgres_cpu_by_client(before.postgres, after.postgres)
            if before.postgres is not None and after.postgres is not None
            else {}
        )
        return CpuSpent(processes, by_client)

    # -- phases ------------------------------------------------------------------------------

    async def _import(self, client: httpx.AsyncClient, memory: PeakRss) -> ImportPhase:
        contacts, seed = self.options.contacts, self.options.seed
        csv_file = self.work_dir / "contacts.csv"
        size = await asyncio.to_thread(write_contacts_csv, csv_file, contacts, seed)
        self.say(f"importing {contacts:,} generated contacts (streamed CSV, {size / 1e6:.1f} MB)")
        cpu_before = self._cpu()
        started = time.monotonic()
        response = await client.post(
            "/v1/contacts/import",
            content=file_body(csv_file),
            headers={"Content-Type": "text/csv; charset=utf-8"},
            timeout=httpx.Timeout(30.0, read=self.left()),
        )
        seconds = time.monotonic() - started
        cpu = self._cpu_spent(cpu_before, self._cpu())
        self._check_alive()
        if response.status_code != 200:
            raise CampaignsBenchFailed(
                f"import answered {response.status_code}: {response.text[:2000]}"
            )
        answer = response.json()
        self.say(
            f"imported {answer['received']:,} rows in {seconds:.1f}s "
            f"({answer['received'] / seconds:,.0f} rows/s; {answer['invalid']} invalid)"
        )
        csv_file.unlink()
        return ImportPhase(seconds, answer, size, memory.take_phase(), cpu)

    async def _previews(self, client: httpx.AsyncClient, memory: PeakRss) -> PreviewPhase:
        count = self.options.previews
        self.say(f"{count} segment previews, one at a time")
        latencies: list[float] = []
        counts: set[int] = set()
        cpu_before = self._cpu()
        for _ in range(count):
            started = time.monotonic()
            response = await client.post(
                "/v1/segments/preview",
                json={"filter": PREVIEW_FILTER},
                timeout=self.left(PREVIEW_TIMEOUT_SECONDS),
            )
            latencies.append(time.monotonic() - started)
            if response.status_code != 200:
                raise CampaignsBenchFailed(
                    f"preview answered {response.status_code}: {response.text[:2000]}"
                )
            counts.add(response.json()["count"])
        cpu = self._cpu_spent(cpu_before, self._cpu())
        self._check_alive()
        audience = max(counts) if counts else 0
        return PreviewPhase(latencies, audience, len(counts) <= 1, memory.take_phase(), cpu)

    async def _campaign(
        self, client: httpx.AsyncClient, db: asyncpg.Connection, memory: PeakRss
    ) -> CampaignPhase:
        created = await client.post(
            "/v1/campaigns",
            # no daily cap (the default is the spec's 50 a day): the bench measures the whole run
            json={
                "name": "bench: everyone",
                "template": TEMPLATE,
                "filter": EVERYONE,
                "max_per_day": None,
            },
            timeout=30.0,
        )
        if created.status_code != 201:
            raise CampaignsBenchFailed(
                f"create campaign answered {created.status_code}: {created.text[:2000]}"
            )
        campaign_id = created.json()["id"]
        memory.take_phase()  # the campaign phase's peaks start with /start
        cpu_before = self._cpu()
        started = time.monotonic()
        response = await client.post(f"/v1/campaigns/{campaign_id}/start", timeout=self.left(300.0))
        start_request_seconds = time.monotonic() - started
        if response.status_code != 200:
            raise CampaignsBenchFailed(
                f"start answered {response.status_code}: {response.text[:2000]}"
            )
        audience = response.json()["audience_size"]
        self.say(
            f"campaign {campaign_id} started for {audience:,} recipients "
            f"(the start request took {start_request_seconds:.1f}s)"
        )
        watch = QueueWatch()
        await self._wait_persisted(client, db, UUID(campaign_id), audience, started, watch)
        cpu = self._cpu_spent(cpu_before, self._cpu())
        peaks = memory.take_phase()
        states = [dict(r) for r in await db.fetch(SQL.campaign_states, UUID(campaign_id))]
        return CampaignPhase(
            campaign_id=campaign_id,
            audience_size=audience,
            start_request_seconds=start_request_seconds,
            fanout_seconds=watch.fanout_seconds,
            persisted_seconds=watch.persisted_seconds,
            persisted=watch.persisted,
            states=states,
            count_queries=watch.count_queries,
            count_query_seconds=round(watch.count_query_seconds, 2),
            peak_rss_mb=peaks,
            cpu=cpu,
        )

    async def _wait_persisted(
        self,
        client: httpx.AsyncClient,
        db: asyncpg.Connection,
        campaign_id: UUID,
        audience: int,
        started: float,
        watch: "QueueWatch",
    ) -> None:
        """Poll the queue's count (and campaign-api's ``requested``) every 0.5 s until the queue
        holds the whole audience or the deadline passes; ``watch`` gets what was seen."""
        last_said = 0.0
        previous: tuple[float, int] | None = None
        while True:
            self._check_alive()
            asked = time.monotonic()
            watch.persisted = await db.fetchval(SQL.persisted_messages, campaign_id)
            now = time.monotonic()
            watch.count_queries += 1
            watch.count_query_seconds += now - asked
            pause = poll_pause(previous, (now, watch.persisted), audience)
            previous = (now, watch.persisted)
            if watch.persisted >= audience:
                watch.persisted_seconds = now - started
                if watch.fanout_seconds is None:
                    watch.fanout_seconds = watch.persisted_seconds
                self.say(f"all {watch.persisted:,} messages persisted after {now - started:.1f}s")
                return
            if watch.fanout_seconds is None:
                read = await client.get(f"/v1/campaigns/{campaign_id}", timeout=10.0)
                if read.status_code == 200 and read.json()["requested"] >= audience:
                    watch.fanout_seconds = time.monotonic() - started
                    self.say(
                        f"campaign-api requested every message after {watch.fanout_seconds:.1f}s"
                    )
            if now - last_said >= 5.0:
                last_said = now
                self.say(f"t={now - started:5.1f}s persisted {watch.persisted:,} of {audience:,}")
            if now > self.deadline:
                self.say(f"timed out with {watch.persisted:,} of {audience:,} persisted")
                return
            await asyncio.sleep(pause)


def poll_pause(previous: tuple[float, int] | None, latest: tuple[float, int], total: int) -> float:
    """Seconds until the next count: a third of the time the rest should take at the pace between
    the last two counts, between 0.5 and 3 s; 0.5 s without a pace yet. E.g. 500,000 rows to go
    at 5,000/s → 3 s; 6,000 to go → 0.5 s, so the end is seen within 0.5 s of happening unless
    the pace more than triples at once."""
    if previous is None:
        return PERSIST_POLL_SECONDS
    (t0, n0), (t1, n1) = previous, latest
    if t1 <= t0 or n1 <= n0:
        return PERSIST_POLL_SECONDS
    seconds_left = (total - n1) / ((n1 - n0) / (t1 - t0))
    return min(PERSIST_POLL_MAX_SECONDS, max(PERSIST_POLL_SECONDS, seconds_left / 3))


@dataclass
class QueueWatch:
    """What polling the dispatcher's queue saw, in seconds from the start request."""

    fanout_seconds: float | None = None  # campaign-api had requested every recipient
    persisted_seconds: float | None = None  # the queue held every message
    persisted: int = 0
    count_queries: int = 0
    count_query_seconds: float = 0.0
