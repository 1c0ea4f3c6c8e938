"""One chaos run: the whole stack as processes, a campaign per fault, the fault, the recovery.

The sequence: servers (a fresh database and stream prefix; embedded ones can be restarted),
every migration, the simulator and the services (two dispatcher replicas); ``doctors`` doctors
per fault imported over HTTP, each fault's in a region of its own; the first-contact rule made
quick (a follow-up one second after our message, at most one).

Then, for each fault in turn, a round:

1. a campaign to that round's doctors is started over HTTP;
2. a conversation runs beside it: every tenth doctor writes back once the campaign's message
   reached them, and the recruiter answers each one through ``POST /v1/messages`` (retried under
   the same Idempotency-Key while campaign-api does not answer, as a real client would);
3. the fault lands when it hurts most (mid-fan-out, mid-send, during the follow-up job, …) and
   the part is brought back; "back in" is the time from the fault until it answers again;
4. the run waits until everything has settled — every message finished or held for a person,
   every outbox and consumer empty, every campaign report equal to the simulator's count —
   ("converged in", from the fault), or until nothing has moved for ``stall_seconds``
   (``progress``: a loaded machine makes a round slower, never stuck);
5. every invariant (``invariants.check``) is judged over the whole run so far.

Every wait is bounded and everything started is stopped, whatever happened.
"""

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from nats.errors import Error as NatsError

from disparo.bench.servers import BenchServers, bench_servers
from disparo.bench.stack import LogFiles
from disparo.chaos.invariants import (
    CampaignTruth,
    Evidence,
    QueuedMessage,
    SimSend,
    Tally,
    Verdict,
    check,
    tally,
)
from disparo.chaos.progress import StallClock, fingerprint
from disparo.chaos.stack import (
    API_KEY,
    FROZEN_PAST_LEASE_SECONDS,
    MAX_FOLLOWUPS,
    PAIR_SPACING_SECONDS,
    Processes,
    chaos_specs,
)
from disparo.devstack import migrate_all
from disparo.nats_cluster import probe_connect, replicas_current, stream_leader
from disparo.processes import ProcessFailed, stop_all
from disparo_shared.events.subjects import STREAM_DEAD_LETTERS, STREAM_MESSAGES, STREAM_SUBJECTS
from disparo_shared.queries import load_queries
from disparo_shared.streams import stream_name

SQL = load_queries(Path(__file__).parent / "sql" / "chaos.sql")

FAULTS: dict[str, str] = {
    "campaign-api": "kill -9 campaign-api mid-fan-out",
    "dispatcher": "kill -9 dispatcher replica 1 mid-send",
    "dispatcher-2": "kill -9 dispatcher replica 2 (the one the webhooks reach) mid-send",
    "dispatcher-stop": "SIGSTOP replica 1 past its leases, then SIGCONT",
    "reporting": "kill -9 reporting while it projects",
    "followup": "kill -9 followup during its job",
    "nats": "NATS restart mid-send",
    "postgres": "Postgres restart (fast shutdown) mid-send",
    "connections": "connection storm: every connection dropped, 5 times",
    "nats-node": "NATS cluster: kill -9 one node mid-send, then, once it is back, another",
    "nats-leader": "NATS cluster: kill -9 the MESSAGES stream's leader mid-send",
}
CLUSTER_FAULTS = frozenset({"nats-node", "nats-leader"})  # need --cluster
SERVICES = ("campaign-api", "reporting", "followup", "dispatcher-1", "dispatcher-2")
REPLY_EVERY = 10  # every tenth doctor of a round writes back
READY_TIMEOUT_SECONDS = 120.0
ARM_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 1.0
OUTAGE_SECONDS = 2.0  # how long NATS or Postgres stays down
STORM_BLOWS = 5
# The simulated Cloud account's approved template (``processes.SIM_TEMPLATES``): a doctor who
# never wrote to a Cloud number is reached with it.
CLOUD_TEMPLATE = {
    "name": "plantao_aviso",
    "language": "pt_BR",
    "parameters": [{"field": "first_name"}, {"field": "specialty"}],
}
# Followup knows a doctor by name only: the specialty is a literal there.
FOLLOWUP_CLOUD_TEMPLATE = {
    **CLOUD_TEMPLATE,
    "parameters": [{"field": "first_name"}, {"text": "Clínica Médica"}],
}
TEMPLATE = "Olá {primeiro_nome}! Temos plantões de {especialidade} nesta semana. Interesse?"
DOCTOR_TEXT = "Oi! Tenho interesse, qual o valor?"
RECRUITER_TEXT = "Que bom! O plantão de 12h paga R$ 1.800. Posso reservar para você?"


class ChaosFailed(RuntimeError):
    """The run could not complete (a process never became ready, a setup call failed)."""


@dataclass(frozen=True)
class ChaosOptions:
    faults: list[str]
    doctors: int  # per fault
    senders: int  # Evolution numbers (a doubt is settled by asking)
    rate_per_second: int
    stall_seconds: float  # a round without progress this long is stuck (``progress``)
    database_url: str | None
    nats_url: str | None
    cluster: bool = False  # a three-node JetStream cluster of the run's own, R3 streams
    cloud_senders: int = 0  # Cloud API numbers (a doubt nothing settles goes to the policy)


@dataclass
class RoundResult:
    fault: str
    action: str  # what was done, with its figures
    back_seconds: float | None = None  # fault → the part answers again
    converged_seconds: float | None = None  # fault → everything settled
    skipped: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    tally: Tally | None = None
    notes: list[str] = field(default_factory=list)
    requeued: int = 0  # held sends a person found not sent, put back in line
    requeue_calls: int = 0  # one call each time the person looked

    @property
    def passed(self) -> bool:
        return self.skipped is not None or (
            self.converged_seconds is not None and all(v.ok for v in self.verdicts)
        )


@dataclass
class ChaosEvidence:
    options: ChaosOptions
    rounds: list[RoundResult]
    final: list[Verdict]
    totals: Tally | None
    simulator_stats: dict
    held_by_kind: dict[str, int]  # still held for a person at the end
    settled: dict[str, dict[str, int]]  # in-doubt verdicts: outcome → kind → messages
    seconds: float
    embedded: bool
    log_dir: Path


@dataclass
class Round:
    """One fault's campaign and the conversation beside it."""

    index: int
    fault: str
    phones: list[str]
    campaign_id: str = ""
    replied: list[str] = field(default_factory=list)  # doctors who wrote back
    conversation: asyncio.Task | None = None  # the doctors' replies and the recruiter's answers
    requeued: int = 0  # held sends the run, as a person, found unsent and put back in line
    requeue_calls: int = 0


class ChaosRun:
    def __init__(self, options: ChaosOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.work_dir = Path(tempfile.mkdtemp(prefix="disparo-chaos-"))
        self.logs = LogFiles(self.work_dir / "logs")
        self.run_id = uuid.uuid4().hex[:8]
        self.rounds: list[Round] = []
        self.procs: Processes | None = None
        self.servers: BenchServers | None = None
        self._unexpected_exits: list[str] = []

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> ChaosEvidence:
        started = time.monotonic()
        try:
            async with bench_servers(
                self.options.database_url,
                self.options.nats_url,
                self.work_dir,
                self.say,
                nats_cluster=self.options.cluster,
            ) as servers:
                self.servers = servers
                try:
                    return await self._run(servers, started)
                finally:
                    if self.procs is not None:
                        stop_all(self.procs.all(), grace_seconds=15.0)
        finally:
            self.logs.close()

    async def _run(self, servers: BenchServers, started: float) -> ChaosEvidence:
        options = self.options
        await migrate_all(servers.database_url)
        specs = chaos_specs(
            servers.database_url,
            servers.nats_url,
            servers.stream_prefix,
            nats_replicas=servers.nats_replicas,
            senders=options.senders,
            cloud_senders=options.cloud_senders,
            rate_per_second=options.rate_per_second,
            now=datetime.now(UTC),
        )
        self.procs = Processes(specs, self.logs)
        self.procs.start("simulator")
        for name in SERVICES:
            self.procs.start(name)
        for process in self.procs.all():
            await asyncio.to_thread(process.wait_ready, READY_TIMEOUT_SECONDS)
        self.say(f"stack ready: simulator and {len(SERVICES)} services; logs in {self.logs.folder}")
        headers = {"X-API-Key": API_KEY}
        async with (
            httpx.AsyncClient(base_url=specs.url("campaign-api"), headers=headers) as api,
            httpx.AsyncClient(base_url=specs.url("reporting"), headers=headers) as reporting,
            httpx.AsyncClient(base_url=specs.url("followup"), headers=headers) as followup,
            httpx.AsyncClient(base_url=specs.url("simulator")) as simulator,
            httpx.AsyncClient(base_url=specs.url("dispatcher-2"), headers=headers) as dispatcher,
        ):
            self.api, self.reporting, self.followup, self.simulator = (
                api,
                reporting,
                followup,
                simulator,
            )
            self.dispatcher = dispatcher
            if options.cloud_senders:
                await self._retry(lambda: dispatcher.post("/v1/templates/sync", timeout=60.0))
            await self._import_doctors()
            await self._quick_followups()
            results = []
            for index, fault in enumerate(options.faults):
                results.append(await self._round(index, fault))
                last = results[-1]
                self.say(
                    f"{fault}: {last.action}; "
                    + ("passed" if last.passed else "FAILED")
                    + (f" ({last.skipped})" if last.skipped else "")
                )
            evidence = await self._settled_evidence()
            stats = (await simulator.get("/_sim/stats")).json()
        held: dict[str, int] = {}
        for message in evidence.queue.values():
            if message.held_in_doubt:
                held[message.kind] = held.get(message.kind, 0) + 1
        settled: dict[str, dict[str, int]] = {}
        for row in await self._rows(SQL.in_doubt_settled):
            settled.setdefault(row["outcome"], {})[row["kind"]] = int(row["messages"])
        return ChaosEvidence(
            options=options,
            rounds=results,
            final=check(evidence),
            totals=tally(evidence),
            simulator_stats=stats,
            held_by_kind=held,
            settled=settled,
            seconds=time.monotonic() - started,
            embedded=servers.embedded,
            log_dir=self.logs.folder,
        )

    # -- setup -------------------------------------------------------------------------------

    async def _import_doctors(self) -> None:
        count = self.options.doctors * len(self.options.faults)
        base = uuid.uuid4().int % (10**8 - count)
        lines = ["phone,name,specialty,region"]
        for index, fault in enumerate(self.options.faults):
            phones = [
                f"+55119{base + index * self.options.doctors + n:08d}"
                for n in range(self.options.doctors)
            ]
            self.rounds.append(Round(index, fault, phones))
            lines += [
                f"{phone},Dra. Médica {n},Clínica Médica,{self._region(index)}"
                for n, phone in enumerate(phones)
            ]
        answer = await self.api.post(
            "/v1/contacts/import",
            content=("\n".join(lines) + "\n").encode(),
            headers={"Content-Type": "text/csv"},
            timeout=120.0,
        )
        if answer.status_code != 200 or answer.json().get("invalid"):
            raise ChaosFailed(f"import answered {answer.status_code}: {answer.text[:1000]}")
        self.say(f"{count:,} doctors imported ({self.options.doctors} per fault)")

    def _region(self, index: int) -> str:
        return f"chaos-{self.run_id}-{index}"

    async def _quick_followups(self) -> None:
        """A follow-up one second after our message, one at most: due by the job's run."""
        [rule_set] = (await self.followup.get("/v1/followup-rules")).json()["rule_sets"]
        rules = rule_set["rules"]
        rules["primeiro_contato"]["delay"] = "1s"
        rules["primeiro_contato"]["max_followups"] = MAX_FOLLOWUPS
        if self.options.cloud_senders:  # silent doctors on a Cloud number: outside the window
            rules["primeiro_contato"]["template"] = FOLLOWUP_CLOUD_TEMPLATE
        saved = await self.followup.put(
            "/v1/followup-rules",
            json={"by": "chaos", "expected_version": rule_set["version"], "rules": rules},
        )
        if saved.status_code != 200:
            raise ChaosFailed(
                f"saving the follow-up rules answered {saved.status_code}: {saved.text[:500]}"
            )

    # -- a round -----------------------------------------------------------------------------

    async def _round(self, index: int, fault: str) -> RoundResult:
        current = self.rounds[index]
        skipped = self._why_skipped(fault)
        if skipped:
            return RoundResult(fault, FAULTS[fault], skipped=skipped)
        self._unexpected_exits.clear()
        current.campaign_id = await self._start_campaign(current)
        conversation = current.conversation = asyncio.create_task(self._converse(current))
        result = RoundResult(fault, FAULTS[fault])
        try:
            inject = getattr(self, "_fault_" + fault.replace("-", "_"))
            began = await inject(current, result)
            converged = await self._converge(current)
            if converged is not None:
                result.converged_seconds = converged - began
        finally:
            conversation.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conversation
        result.requeued, result.requeue_calls = current.requeued, current.requeue_calls
        # Convergence does not wait for what follows a send (delivered and read webhooks, a
        # follow-up falling due): a snapshot taken the instant after can catch one such event
        # on its way through a consumer, which is traffic, not something stuck.
        settled = result.converged_seconds is not None
        evidence = await (self._settled_evidence() if settled else self._evidence())
        result.verdicts = check(evidence)
        result.tally = tally(evidence)
        if self._unexpected_exits:
            result.verdicts.append(
                Verdict("processes up", False, "exited: " + ", ".join(self._unexpected_exits))
            )
        if result.converged_seconds is None:
            result.notes.append(
                f"stuck: no progress for {self.options.stall_seconds:.0f}s, with "
                + ", ".join(f"{k} {v}" for k, v in evidence.stuck.items() if v)
            )
        reports = next(v for v in result.verdicts if v.name == "reports converged")
        if not reports.ok:
            result.notes.append(await self._reply_attribution(current))
        return result

    def _why_skipped(self, fault: str) -> str | None:
        cluster = self.servers.nats_cluster is not None
        if fault in CLUSTER_FAULTS and not cluster:
            return "needs --cluster"
        if fault == "nats" and cluster:
            return "a single-node fault: see nats-node and nats-leader"
        if fault == "postgres" and self.servers.postgres_server is None:
            return "Postgres from DATABASE_URL: not ours"
        if fault == "nats" and self.servers.nats_server is None:
            return "NATS from NATS_URL: not ours"
        return None

    async def _reply_attribution(self, current: Round) -> str:
        """Where reporting put this round's replies, for a report that did not converge."""
        phones = current.phones[::REPLY_EVERY]
        db = await asyncpg.connect(self.servers.database_url, timeout=10)
        try:
            rows = await db.fetch(SQL.reply_attribution, current.campaign_id, phones)
        finally:
            await db.close()
        found = ", ".join(
            f"{r['attributed_to']}{' (this campaign)' if r['this_campaign'] else ''}: "
            f"{r['replies']}"
            for r in rows
        )
        return f"this round's replies in reporting attributed to: {found or 'none stored'}"

    async def _start_campaign(self, current: Round) -> str:
        created = await self.api.post(
            "/v1/campaigns",
            json={
                "name": f"chaos {current.fault}",
                "template": TEMPLATE,
                "filter": {"field": "region", "op": "eq", "value": self._region(current.index)},
                "max_per_day": None,
                **({"cloud_template": CLOUD_TEMPLATE} if self.options.cloud_senders else {}),
            },
        )
        if created.status_code != 201:
            raise ChaosFailed(f"create campaign answered {created.status_code}: {created.text}")
        campaign_id = created.json()["id"]
        started = await self.api.post(f"/v1/campaigns/{campaign_id}/start", timeout=60.0)
        if started.status_code not in (200, 202):
            raise ChaosFailed(f"start answered {started.status_code}: {started.text}")
        return campaign_id

    async def _converse(self, current: Round) -> None:
        """Every tenth doctor writes back once our message reached them; the recruiter answers
        each, retrying under one Idempotency-Key until campaign-api takes it."""
        waiting = list(current.phones[::REPLY_EVERY])
        while waiting:
            for phone in list(waiting):
                send = await self._first_send_to(phone)
                if send is None:
                    continue
                await self._retry(
                    lambda send=send, phone=phone: self.simulator.post(
                        "/_sim/inbound",
                        json={
                            "dialect": send["dialect"],
                            "sender": send["sender"],
                            "from": phone.lstrip("+"),
                            "text": DOCTOR_TEXT,
                        },
                    )
                )
                current.replied.append(phone)
                key = f"chaos-{self.run_id}-reply-{phone}"
                await self._retry(
                    lambda phone=phone, key=key: self.api.post(
                        "/v1/messages",
                        json={"phone": phone, "body": RECRUITER_TEXT},
                        headers={"Idempotency-Key": key},
                    )
                )
                waiting.remove(phone)
            await asyncio.sleep(0.5)

    async def _first_send_to(self, phone: str) -> dict | None:
        with contextlib.suppress(httpx.HTTPError):
            answer = await self.simulator.get(
                "/_sim/sends", params={"recipient": phone.lstrip("+")}
            )
            if answer.status_code == 200 and answer.json():
                return answer.json()[0]
        return None

    @staticmethod
    async def _retry(call) -> None:
        """Until the call answers 2xx; a 4xx other than 409 (a request still in progress under
        its key) is a bug of the run, not an outage."""
        while True:
            try:
                answer = await call()
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code < 300:
                return
            if answer is not None and 400 <= answer.status_code < 500 and answer.status_code != 409:
                raise ChaosFailed(f"{answer.request.url} answered {answer.status_code}")
            await asyncio.sleep(0.5)

    # -- faults: each returns the monotonic time it landed ------------------------------------

    async def _fault_campaign_api(self, current: Round, result: RoundResult) -> float:
        async def fanning_out(db):
            row = await db.fetchrow(SQL.campaign_fanout, current.campaign_id)
            return row if row and (row["cursor"] > 0 or row["done"]) else None

        row = await self._poll_db(fanning_out, interval=0.01)
        self.procs.kill9("campaign-api")
        began = time.monotonic()
        if row is None or row["done"]:
            result.action = "kill -9 campaign-api (its fan-out had already ended)"
        else:
            result.action = f"kill -9 campaign-api at fan-out {row['cursor']}/{row['audience']}"
        await self._restart("campaign-api", result, began)
        return began

    async def _fault_dispatcher(self, current: Round, result: RoundResult) -> float:
        in_flight = await self._mid_send("dispatcher-1")
        self.procs.kill9("dispatcher-1")
        began = time.monotonic()
        result.action = f"kill -9 dispatcher-1 with {in_flight} send(s) in flight"
        await self._restart("dispatcher-1", result, began)
        return began

    async def _fault_dispatcher_2(self, current: Round, result: RoundResult) -> float:
        in_flight = await self._mid_send("dispatcher-2")
        self.procs.kill9("dispatcher-2")
        began = time.monotonic()
        result.action = (
            f"kill -9 dispatcher-2 (webhooks' replica) with {in_flight} send(s) in flight"
        )
        await self._restart("dispatcher-2", result, began)
        return began

    async def _fault_dispatcher_stop(self, current: Round, result: RoundResult) -> float:
        in_flight = await self._mid_send("dispatcher-1")
        self.procs.freeze("dispatcher-1")
        began = time.monotonic()
        await asyncio.sleep(FROZEN_PAST_LEASE_SECONDS)
        self.procs.thaw("dispatcher-1")
        result.back_seconds = time.monotonic() - began
        result.action = (
            f"SIGSTOP dispatcher-1 for {FROZEN_PAST_LEASE_SECONDS:.0f}s (past its leases) with "
            f"{in_flight} send(s) in flight, then SIGCONT"
        )
        return began

    async def _fault_reporting(self, current: Round, result: RoundResult) -> float:
        sent = await self._campaign_sending(current)
        self.procs.kill9("reporting")
        began = time.monotonic()
        result.action = f"kill -9 reporting with {sent} of the round's messages sent"
        await asyncio.sleep(1.0)  # events pile up while it is away
        await self._restart("reporting", result, began)
        return began

    async def _fault_followup(self, current: Round, result: RoundResult) -> float:
        """The round's campaign settles first, so every silent doctor is due; the job is
        killed once it has started requesting, run again after the restart, then a third time,
        which must find nothing left."""
        await self._converge(current)
        before = await self._scalar(SQL.followups_requested)
        job = asyncio.create_task(self.followup.post("/v1/admin/followups/run", timeout=120.0))

        async def requesting(db):
            return (await db.fetchval(SQL.followups_requested)) > before or job.done()

        await self._poll_db(requesting, interval=0.01)
        self.procs.kill9("followup")
        began = time.monotonic()
        with contextlib.suppress(httpx.HTTPError, asyncio.CancelledError):
            await job
        at_kill = await self._scalar(SQL.followups_requested) - before
        await self._restart("followup", result, began)
        second = await self._run_followup_job()
        third = await self._run_followup_job()
        result.action = (
            f"kill -9 followup with {at_kill} follow-up(s) requested; the rerun requested "
            f"{second}, a third run {third}"
        )
        if third:
            result.verdicts.append(Verdict("job idempotent", False, f"third run requested {third}"))
        return began

    async def _run_followup_job(self) -> int:
        answer = await self.followup.post("/v1/admin/followups/run", timeout=120.0)
        answer.raise_for_status()
        return int(answer.json()["requested"])

    async def _fault_nats(self, current: Round, result: RoundResult) -> float:
        sent = await self._campaign_sending(current)
        server = self.servers.nats_server
        await asyncio.to_thread(server.stop)
        began = time.monotonic()
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(server.start)
        await self._all_ready()
        result.back_seconds = time.monotonic() - began
        result.action = (
            f"NATS stopped for {OUTAGE_SECONDS:.0f}s with {sent} of the round's messages sent"
        )
        return began

    async def _fault_nats_node(self, current: Round, result: RoundResult) -> float:
        """n1 killed mid-send and brought back; once every stream's replicas are current again,
        n2 likewise. "Back in" is from the first kill until the cluster is whole the second
        time."""
        sent = await self._campaign_sending(current)
        began = time.monotonic()
        taken = []
        for name in ("n1", "n2"):
            taken.append(f"{name} {await self._kill_node(name):.1f}s")
        result.back_seconds = time.monotonic() - began
        result.action = (
            f"kill -9 NATS node n1, then n2 (each down {OUTAGE_SECONDS:.0f}s; kill to replicas "
            f"current: {', '.join(taken)}), with {sent} of the round's messages sent"
        )
        return began

    async def _fault_nats_leader(self, current: Round, result: RoundResult) -> float:
        sent = await self._campaign_sending(current)
        stream = stream_name(self.servers.stream_prefix, STREAM_MESSAGES)
        leader = await stream_leader(self.servers.nats_url, stream)
        if leader is None:
            raise ChaosFailed(f"stream {stream} has no leader to kill")
        began = time.monotonic()
        took = await self._kill_node(leader)
        new_leader = await stream_leader(self.servers.nats_url, stream)
        result.back_seconds = time.monotonic() - began
        result.action = (
            f"kill -9 NATS node {leader}, the MESSAGES stream's leader (down "
            f"{OUTAGE_SECONDS:.0f}s, replicas current {took:.1f}s after; leader now "
            f"{new_leader}), with {sent} of the round's messages sent"
        )
        return began

    async def _kill_node(self, name: str) -> float:
        """``kill -9`` one cluster node, restart it after the outage, and wait until every
        stream has a leader and every replica is current; the seconds that took."""
        cluster = self.servers.nats_cluster
        node = cluster.node(name)
        node.kill()
        began = time.monotonic()
        await asyncio.sleep(OUTAGE_SECONDS)
        cluster.start_node(node)
        streams = [stream_name(self.servers.stream_prefix, s) for s in STREAM_SUBJECTS]
        deadline = began + READY_TIMEOUT_SECONDS
        while not await replicas_current(self.servers.nats_url, streams):
            if time.monotonic() > deadline:
                raise ChaosFailed(f"NATS node {name} did not catch up within a ready timeout")
            await asyncio.sleep(0.2)
        return time.monotonic() - began

    async def _fault_postgres(self, current: Round, result: RoundResult) -> float:
        sent = await self._campaign_sending(current)
        server = self.servers.postgres_server
        await asyncio.to_thread(server.stop)
        began = time.monotonic()
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(server.start)
        await self._all_ready()
        result.back_seconds = time.monotonic() - began
        result.action = (
            f"Postgres fast shutdown, down {OUTAGE_SECONDS:.0f}s, with {sent} of the round's "
            "messages sent"
        )
        return began

    async def _fault_connections(self, current: Round, result: RoundResult) -> float:
        sent = await self._campaign_sending(current)
        began = time.monotonic()
        dropped = 0
        for _ in range(STORM_BLOWS):
            dropped += await self._scalar(SQL.terminate_run_connections)
            await asyncio.sleep(1.0)
        await self._all_ready()
        result.back_seconds = time.monotonic() - began
        result.action = (
            f"{dropped} connections dropped in {STORM_BLOWS} blows, 1s apart, with {sent} of "
            "the round's messages sent"
        )
        return began

    # -- fault helpers -----------------------------------------------------------------------

    async def _restart(self, name: str, result: RoundResult, began: float) -> None:
        process = self.procs.start(name)
        await asyncio.to_thread(process.wait_ready, READY_TIMEOUT_SECONDS)
        result.back_seconds = time.monotonic() - began

    async def _all_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for process in self.procs.all():
            left = max(1.0, deadline - time.monotonic())
            await asyncio.to_thread(process.wait_ready, left)

    async def _mid_send(self, name: str) -> int:
        """Wait until replica ``name`` has sends in flight, then let them reach the provider."""
        replica = self.procs.replica_id(name)

        async def sending(db):
            return await db.fetchval(SQL.sending_by, replica) or None

        await self._poll_db(sending, interval=0.02)
        await asyncio.sleep(0.1)
        return int(await self._scalar(SQL.sending_by, replica))

    async def _campaign_sending(self, current: Round) -> int:
        """Wait until a tenth of the round's campaign reached the simulator."""
        wanted = max(1, len(current.phones) // 10)
        deadline = time.monotonic() + ARM_TIMEOUT_SECONDS
        sent = 0
        while time.monotonic() < deadline:
            queue = await self._queue()
            accepted = {s.message_id for s in await self._sends()}
            sent = sum(
                1
                for message_id, message in queue.items()
                if message.campaign_id == current.campaign_id and message_id in accepted
            )
            if sent >= wanted:
                break
            await asyncio.sleep(0.1)
        return sent

    async def _poll_db(self, condition, interval: float):
        """``condition(db)`` until it is truthy (returned) or ARM_TIMEOUT_SECONDS (None)."""
        db = await asyncpg.connect(self.servers.database_url, timeout=10)
        try:
            deadline = time.monotonic() + ARM_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                found = await condition(db)
                if found:
                    return found
                await asyncio.sleep(interval)
            return None
        finally:
            await db.close()

    async def _requeue_what_a_person_finds_unsent(self, current: Round, evidence: Evidence) -> int:
        """Act as the person the at-most-once policy waits for: look at the round's held
        sends at the provider (the simulator's log) and put those it never took back in line,
        all in one call; those it took stay held (sent, though nobody could tell). Returns how
        many went back in line."""
        accepted = {send.message_id for send in evidence.sends}
        unsent = [
            message_id
            for message_id, message in evidence.queue.items()
            if message.held_in_doubt
            and message.campaign_id in (current.campaign_id, None)
            and message_id not in accepted
        ]
        if not unsent:
            return 0
        answer = await self.dispatcher.post("/v1/in-doubt/requeue", json={"message_ids": unsent})
        answer.raise_for_status()
        requeued = int(answer.json()["requeued"])
        current.requeued += requeued
        current.requeue_calls += 1
        return requeued

    async def _rows(self, query: str, *args) -> list:
        db = await asyncpg.connect(self.servers.database_url, timeout=10)
        try:
            return await db.fetch(query, *args)
        finally:
            await db.close()

    async def _scalar(self, query: str, *args):
        db = await asyncpg.connect(self.servers.database_url, timeout=10)
        try:
            return await db.fetchval(query, *args)
        finally:
            await db.close()

    # -- convergence and evidence -------------------------------------------------------------

    async def _converge(self, current: Round) -> float | None:
        """Poll until nothing is left to settle, the round's conversation is over and its
        campaign report equals the truth: the monotonic time it was so; None once nothing has
        moved for ``stall_seconds`` (stuck, not slow: a loaded machine only makes it later).
        An earlier round's report that never converged is that round's failure, judged again
        by every check, not a wait here."""
        stall = StallClock(self.options.stall_seconds)
        while not stall.stalled:
            self._restart_the_dead()
            conversation = current.conversation
            if conversation is not None and conversation.done() and conversation.exception():
                raise conversation.exception()
            try:
                evidence = await self._evidence()
            except (OSError, asyncpg.PostgresError, httpx.HTTPError, NatsError, TimeoutError):
                evidence = None
            if evidence is not None:
                stall.observe(fingerprint(evidence, len(current.replied)))
                if await self._requeue_what_a_person_finds_unsent(current, evidence):
                    evidence = None  # what was read is no longer so: look again
            talked = conversation is None or conversation.done()
            if talked and evidence is not None and not any(evidence.stuck.values()):
                mine = [c for c in evidence.campaigns if c.campaign_id == current.campaign_id]
                reports = [
                    v
                    for v in check(replace(evidence, campaigns=mine))
                    if v.name == "reports converged"
                ]
                if all(v.ok for v in reports):
                    return time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
        return None

    async def _settled_evidence(self) -> Evidence:
        """The whole run's evidence once every check holds, or as it is once nothing has moved
        for ``stall_seconds``: after a round converged, webhooks still report deliveries and
        reads and the follow-up job can still send (a doctor who did not answer), and a
        snapshot taken mid-way would judge that in flight."""
        stall = StallClock(self.options.stall_seconds)
        while True:
            evidence = await self._evidence()
            if all(v.ok for v in check(evidence)) or stall.stalled:
                return evidence
            stall.observe(fingerprint(evidence, 0))
            await asyncio.sleep(POLL_SECONDS)

    def _restart_the_dead(self) -> None:
        """A process that died on its own is a finding: noted, and started again."""
        for name, process in list(self.procs.running.items()):
            if process.returncode is not None and not process.stopping:
                self._unexpected_exits.append(f"{name} ({process.returncode})")
                self.say(f"{name} exited with {process.returncode}: restarting it")
                self.procs.start(name)

    async def _sends(self) -> list[SimSend]:
        answer = await self.simulator.get("/_sim/sends", timeout=30.0)
        answer.raise_for_status()
        return [
            SimSend(s["message_id"], s["sender"], s["recipient"], float(s["accepted_at"]))
            for s in answer.json()
        ]

    async def _queue(self) -> dict[str, QueuedMessage]:
        db = await asyncpg.connect(self.servers.database_url, timeout=10)
        try:
            rows = await db.fetch(SQL.queue)
        finally:
            await db.close()
        return {
            r["message_id"]: QueuedMessage(
                r["kind"], r["campaign_id"], r["phone"], r["state"], r["held_in_doubt"]
            )
            for r in rows
        }

    async def _evidence(self) -> Evidence:
        sends = await self._sends()
        queue = await self._queue()
        stats = (await self.simulator.get("/_sim/stats")).json()
        db = await asyncpg.connect(self.servers.database_url, timeout=10)
        try:
            resent = {r["message_id"] for r in await db.fetch(SQL.resent_by_policy)}
            outbox = await db.fetchval(SQL.outbox_left)
            outbox_dead = await db.fetchval(SQL.outbox_dead)
            fanouts = await db.fetchval(SQL.unfinished_fanouts)
        finally:
            await db.close()
        consumers, dead_letters = await self._bus_backlog()
        campaigns = []
        for current in self.rounds:
            if not current.campaign_id:
                continue
            report = await self.reporting.get(f"/v1/campaigns/{current.campaign_id}/report")
            funnel = report.json()["funnel"] if report.status_code == 200 else {}
            campaigns.append(
                CampaignTruth(
                    current.campaign_id,
                    len(current.phones),
                    _replies_to_known_sends(current, queue),
                    funnel,
                )
            )
        unfinished = sum(
            1
            for m in queue.values()
            if m.state not in ("sent", "dead", "cancelled") and not m.held_in_doubt
        )
        return Evidence(
            sends=sends,
            queue=queue,
            campaigns=campaigns,
            rate_per_second=self.options.rate_per_second,
            pair_spacing_seconds=PAIR_SPACING_SECONDS,
            refused_for_limits=int(stats["violations"]),
            max_followups_per_doctor=MAX_FOLLOWUPS,
            stuck={
                "messages unfinished": unfinished,
                "fan-outs unfinished": int(fanouts),
                "outbox events": int(outbox),
                "outbox dead letters": int(outbox_dead),
                "dead-lettered events": dead_letters,
                **{f"events pending on {name}": count for name, count in consumers.items()},
            },
            resent_by_policy=frozenset(resent),
        )

    async def _bus_backlog(self) -> tuple[dict[str, int], int]:
        """Events not yet handled, by consumer (``stream/consumer``) of the run's streams, and
        dead letters: a stuck event names the consumer that holds it."""
        prefix = stream_name(self.servers.stream_prefix, "")
        nc = await probe_connect(self.servers.nats_url)
        try:
            js = nc.jetstream(timeout=5)
            pending: dict[str, int] = {}
            dead = 0
            for info in await js.streams_info():
                name = info.config.name
                if not name.startswith(prefix):
                    continue
                if name == stream_name(self.servers.stream_prefix, STREAM_DEAD_LETTERS):
                    dead += info.state.messages
                for consumer in await js.consumers_info(name):
                    left = (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
                    pending[f"{name}/{consumer.name}"] = left
            return pending, dead
        finally:
            await nc.close()


def _replies_to_known_sends(current: Round, queue: Mapping[str, QueuedMessage]) -> int:
    """Doctors who wrote back after the round's campaign message, but for those whose message
    is held in doubt: the provider took it (they got it) but nobody knows it was sent, so the
    report cannot tie their reply to it."""
    held = {
        m.phone for m in queue.values() if m.held_in_doubt and m.campaign_id == current.campaign_id
    }
    return sum(1 for phone in current.replied if phone not in held)


__all__ = ["FAULTS", "ChaosEvidence", "ChaosFailed", "ChaosOptions", "ChaosRun", "ProcessFailed"]
