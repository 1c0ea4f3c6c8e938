"""``disparo bench console``: how fast the console's busiest pages answer, with real data.

Imports generated doctors, creates campaigns (some started, so reporting has funnels for them),
logs a console user in over HTTP like a browser and times, one request at a time, the campaign
list, a started campaign's page, the segment builder's live count (with its exclusions), the
Painel (alerts and the oldest waiting message), the doctor search by a name fragment (as
written, and without its accents) and by a phone's last 4 digits, a reached doctor's page (with
their messages) and the numbers page. The issue's sizes are
1,000,000 doctors and 200 campaigns with a goal of p95 ≤ 300 ms; on a shared machine run it
smaller (the defaults) and say so. Speed goals are reported, never asserted: the exit code is 1
only when a page answered something other than 200.
"""

import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from disparo.bench import bench_app

GOAL_P95_MS = 300.0
SPECIALTIES = ["Anestesiologia", "Pediatria", "Clínica Médica", "Cardiologia", "Ortopedia",
               "Ginecologia", "Psiquiatria", "Neurologia", "Dermatologia"]  # fmt: skip
REGIONS = ["ABC", "Centro", "Zona Sul", "Zona Norte", "Campinas", "Santos"]
STARTED_AUDIENCE = 10  # doctors per started campaign (a tag of their own)


@dataclass(frozen=True)
class ConsoleBenchOptions:
    doctors: int
    campaigns: int
    started: int
    requests: int
    seed: int
    database_url: str | None
    nats_url: str | None


@dataclass
class ConsoleEvidence:
    options: ConsoleBenchOptions
    timings: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    import_seconds: float = 0.0
    started_ids: list[str] = field(default_factory=list)
    reached_doctor_id: str | None = None  # a doctor of the first started campaign


class ConsoleBenchFailed(RuntimeError):
    """The run could not be set up (a service refused the data it needs)."""


def doctors_csv(count: int, started: int, seed: int) -> bytes:
    """``count`` doctors; the first ``started * STARTED_AUDIENCE`` carry a tag lote-<n>."""
    rng = random.Random(seed)
    lines = ["phone,name,specialty,region,tags"]
    phones = rng.sample(range(10**7, 10**8), count)
    for n, number in enumerate(phones):
        tag = f"lote-{n // STARTED_AUDIENCE}" if n < started * STARTED_AUDIENCE else "geral"
        specialty, region = rng.choice(SPECIALTIES), rng.choice(REGIONS)
        lines.append(f"+55119{number:08d},Dr(a). Médico {n},{specialty},{region},{tag}")
    return ("\n".join(lines) + "\n").encode()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def run_console_bench(options: ConsoleBenchOptions, say: Any) -> ConsoleEvidence:
    from disparo.bench.servers import bench_servers
    from disparo.devstack import ALWAYS_OPEN_WINDOW
    from disparo.embedded import free_port
    from disparo.processes import ManagedProcess, StackPorts, stack_processes, stop_all
    from disparo_console.auth.roles import Role
    from disparo_console.auth.users import create_user
    from disparo_shared.db import create_pool
    from disparo_shared.dev_secrets import DEV_API_KEY
    from disparo_shared.events import utc_now
    from disparo_shared.settings import DatabaseSettings

    evidence = ConsoleEvidence(options)
    work_dir = Path(tempfile.mkdtemp(prefix="disparo-bench-console-"))
    async with bench_servers(options.database_url, options.nats_url, work_dir, say) as servers:
        ports = StackPorts(*(free_port() for _ in range(6)))
        specs = stack_processes(
            ports, servers.database_url, servers.nats_url, evolution_numbers=4, cloud_numbers=0,
            common_env={"DISPARO_NATS_STREAM_PREFIX": servers.stream_prefix,
                        "DISPARO_LOG_LEVEL": "WARNING", **ALWAYS_OPEN_WINDOW},
            with_console=True,
        )  # fmt: skip
        log = (work_dir / "processes.log").open("a", encoding="utf-8")
        processes = [ManagedProcess(s, lambda n, line: log.write(f"{n} │ {line}\n")) for s in specs]
        try:
            for process in processes:
                process.start()
            for process in processes:
                await asyncio.to_thread(process.wait_ready, 120.0)
            say(f"stack ready; logs in {work_dir / 'processes.log'}")
            await _arrange(options, ports, DEV_API_KEY, evidence, say)
            pool = await create_pool(DatabaseSettings(url=servers.database_url), "console")
            try:
                await create_user(pool, "bench", "Bench", Role.ADMIN, "bench-password-1", utc_now())
            finally:
                await pool.close()
            await _measure(options, ports.url("console"), evidence, say)
        finally:
            await asyncio.to_thread(stop_all, processes, 15.0)
            log.close()
    return evidence


async def _arrange(
    options: ConsoleBenchOptions, ports: Any, api_key: str, evidence: ConsoleEvidence, say: Any
) -> None:
    import httpx

    headers = {"X-API-Key": api_key}
    async with httpx.AsyncClient(
        base_url=ports.url("campaign-api"), headers=headers, timeout=600
    ) as api:
        body = doctors_csv(options.doctors, options.started, options.seed)
        began = time.perf_counter()
        answer = await api.post(
            "/v1/contacts/import", content=body, headers={"Content-Type": "text/csv"}
        )
        evidence.import_seconds = time.perf_counter() - began
        if answer.status_code != 200:
            raise ConsoleBenchFailed(f"import answered {answer.status_code}: {answer.text[:300]}")
        say(f"imported {options.doctors:,} doctors in {evidence.import_seconds:.1f} s")
        for n in range(options.campaigns):
            started = n < options.started
            condition = (
                {"field": "tags", "op": "any", "value": [f"lote-{n}"]}
                if started
                else {"field": "specialty", "op": "eq", "value": SPECIALTIES[n % len(SPECIALTIES)]}
            )
            created = await api.post(
                "/v1/campaigns",
                json={"name": f"Campanha {n + 1}", "template": "Olá, {primeiro_nome}!",
                      "filter": {"all": [condition]}},
            )  # fmt: skip
            if created.status_code != 201:
                raise ConsoleBenchFailed(f"create answered {created.status_code}: {created.text}")
            if started:
                await api.post(f"/v1/campaigns/{created.json()['id']}/start")
                evidence.started_ids.append(created.json()["id"])
        say(f"{options.campaigns} campaigns created, {options.started} started")
        reached = await api.get("/v1/contacts", params={"tag": "lote-0", "limit": 1})
        evidence.reached_doctor_id = reached.json()["items"][0]["id"]
        await asyncio.sleep(5)  # let the started campaigns send and reporting catch up


async def _measure(
    options: ConsoleBenchOptions, console_url: str, evidence: ConsoleEvidence, say: Any
) -> None:
    import re

    import httpx

    async with httpx.AsyncClient(base_url=console_url, timeout=60) as browser:
        login = await browser.get("/entrar")
        token = re.search(r'name="_csrf" value="([^"]+)"', login.text).group(1)
        await browser.post(
            "/entrar", data={"_csrf": token, "username": "bench", "password": "bench-password-1"}
        )
        page = await browser.get("/campanhas")
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        if found is None:
            raise ConsoleBenchFailed(
                f"the console did not log the bench user in: {page.status_code}"
            )
        csrf = found.group(1)
        started = evidence.started_ids
        pages = {
            "campaign list": lambda: browser.get("/campanhas"),
            "campaign page": lambda: browser.get(f"/campanhas/{started[0]}"),
            "segment count": lambda: browser.post(
                "/campanhas/nova/contagem",
                data={"rows": "2", "combinator": "all",
                      "cond-0-field": "specialty", "cond-0-op": "eq", "cond-0-value": "Pediatria",
                      "cond-1-field": "region", "cond-1-op": "eq", "cond-1-value": "ABC"},
                headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
            ),
            "painel": lambda: browser.get("/"),
            "doctor search": lambda: browser.get("/medicos", params={"busca": "Médico 4242"}),
            "doctor search, no accents": lambda: browser.get(
                "/medicos", params={"busca": "medico 4242"}
            ),
            "doctor search, phone end": lambda: browser.get("/medicos", params={"busca": "4242"}),
            "doctor page": lambda: browser.get(f"/medicos/{evidence.reached_doctor_id}"),
            "numbers": lambda: browser.get("/numeros"),
        }  # fmt: skip
        for name, request in pages.items():
            await request()  # warm-up, not counted
            times = evidence.timings.setdefault(name, [])
            for _ in range(options.requests):
                began = time.perf_counter()
                answer = await request()
                times.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    evidence.failures[name] = evidence.failures.get(name, 0) + 1
            say(f"{name}: {options.requests} requests timed")


def summarize(evidence: ConsoleEvidence) -> dict[str, Any]:
    from disparo.bench.report import machine

    pages = {}
    for name, times in evidence.timings.items():
        ms = [t * 1000 for t in times]
        pages[name] = {
            "requests": len(ms),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(percentile(ms, 0.95), 1),
            "max_ms": round(max(ms), 1),
            "not_200": evidence.failures.get(name, 0),
            "meets_goal": percentile(ms, 0.95) <= GOAL_P95_MS,
        }
    o = evidence.options
    return {
        "benchmark": "console",
        "machine": machine(),
        "doctors": o.doctors,
        "campaigns": o.campaigns,
        "started_campaigns": o.started,
        "import_seconds": round(evidence.import_seconds, 1),
        "goal_p95_ms": GOAL_P95_MS,
        "pages": pages,
        "passed": all(p["not_200"] == 0 for p in pages.values()),
    }


def render(summary: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"console pages — {summary['doctors']:,} doctors, {summary['campaigns']} campaigns"
        f" ({summary['started_campaigns']} started), one request at a time",
        title_justify="left",
    )
    for column in ("page", "requests", "p50 ms", "p95 ms", "max ms", "not 200",
                   f"p95 ≤ {summary['goal_p95_ms']:.0f} ms"):  # fmt: skip
        table.add_column(column)
    for name, p in summary["pages"].items():
        goal = "yes" if p["meets_goal"] else "no"
        table.add_row(name, str(p["requests"]), f"{p['p50_ms']:.1f}", f"{p['p95_ms']:.1f}",
                      f"{p['max_ms']:.1f}", str(p["not_200"]), goal)  # fmt: skip
    console.print(table)
    m = summary["machine"]
    console.print(f"machine: {m['cpus']} CPUs, {m['memory_gb']} GB, Python {m['python']}")


@bench_app.command("console")
def console_bench(
    doctors: Annotated[
        int, typer.Option(min=1, help="Generated doctors to import (the issue's figure: 1M).")
    ] = 20_000,
    campaigns: Annotated[
        int, typer.Option(min=1, help="Campaigns to create (the issue's figure: 200).")
    ] = 50,
    started: Annotated[
        int, typer.Option(min=1, help=f"Campaigns started, {STARTED_AUDIENCE} doctors each.")
    ] = 10,
    requests: Annotated[int, typer.Option(min=1, help="Timed requests per page.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the generated doctors.")] = 7,
    json_file: Annotated[
        Path | None, typer.Option(help="Also write the figures as JSON to this file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON on stdout instead.")
    ] = False,
) -> None:
    """Time the console's busiest pages over HTTP (campaigns, segment count, Painel, doctors,
    numbers).

    Uses DATABASE_URL / NATS_URL when set, else embedded servers; a fresh database and stream
    prefix either way, dropped at the end.
    """
    import httpx

    from disparo.bench.command import progress_printer, run_and_report
    from disparo.devstack import DevStackSettings
    from disparo_shared.logging import configure_logging

    if started > campaigns:
        raise typer.BadParameter("--started must not exceed --campaigns")
    if started * STARTED_AUDIENCE > doctors:
        raise typer.BadParameter(f"--doctors must be at least {started * STARTED_AUDIENCE}")
    err = Console(stderr=True)
    configure_logging("WARNING")
    servers = DevStackSettings()
    options = ConsoleBenchOptions(doctors, campaigns, started, requests, seed,
                                  servers.database_url, servers.nats_url)  # fmt: skip
    run_and_report(
        run_console_bench(options, progress_printer(err)),
        failures=(ConsoleBenchFailed, httpx.HTTPError),
        summarize=summarize,
        render=render,
        json_file=json_file,
        as_json=as_json,
        err=err,
    )
