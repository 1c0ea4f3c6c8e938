"""``disparo bench dispatch``: the send queue at full load against the simulator, over HTTP.

Real processes, nothing mocked: Postgres and NATS (from the environment or embedded), the
simulator, and one or more dispatcher replicas. The benchmark publishes a backlog of campaign
messages, injects urgent replies while it drains, optionally injects faults or kills a replica,
and reads the simulator's log — the ground truth — and the dispatcher's tables to print
throughput, limit violations, urgent latency, CPU cost, and what became of every message.
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from disparo.bench import bench_app
from disparo.bench.stack import CLOUD, EVOLUTION, MIXED


@bench_app.command("dispatch")
def dispatch(
    messages: Annotated[
        int, typer.Option(min=1, help="Campaign messages in the backlog.")
    ] = 100_000,
    senders: Annotated[int, typer.Option(min=1, help="Simulated WhatsApp numbers.")] = 50,
    rate: Annotated[
        int, typer.Option(min=1, help="Messages per second allowed per number (both sides).")
    ] = 80,
    replicas: Annotated[
        str,
        typer.Option(
            help="Dispatcher processes (2 at least with --kill); a list such as 1,2,3 runs the "
            "benchmark once per count, in turn, and prints how throughput and the senders' "
            "spread change with the count."
        ),
    ] = "1",
    dialect: Annotated[
        str, typer.Option(help=f"Provider API of the numbers: {EVOLUTION}, {CLOUD} or {MIXED}.")
    ] = EVOLUTION,
    typing_indicator: Annotated[
        bool,
        typer.Option(
            "--typing/--no-typing",
            help="Send Evolution's typing delay (the simulator never waits).",
        ),
    ] = False,
    urgent: Annotated[
        int, typer.Option(min=0, help="Priority-10 replies injected while the backlog drains.")
    ] = 200,
    intake_urgent: Annotated[
        int,
        typer.Option(
            min=0,
            help="Priority-10 replies injected while the backlog is still being persisted "
            "(one every 0.25 s until it is), reported apart as urgent during intake.",
        ),
    ] = 40,
    webhooks: Annotated[
        bool | None,
        typer.Option(
            "--webhooks/--no-webhooks",
            help="Let the simulator post its webhooks (sent-echoes, delivered, read) back to the "
            "dispatcher [default: on with --kill, where echoes settle doubtful sends; else off].",
            show_default=False,
        ),
    ] = None,
    faults: Annotated[
        bool, typer.Option(help="Inject 10% 5xx, 2% timeouts and 1% permanent errors.")
    ] = False,
    kill: Annotated[
        int,
        typer.Option(
            min=0,
            help="kill -9 and restart a replica this many times during the run, e.g. --kill 5 "
            "(runs 2 replicas at least).",
        ),
    ] = 0,
    timeout: Annotated[
        float, typer.Option(min=10, help="Seconds the whole run may take before it gives up.")
    ] = 900.0,
    batch_size: Annotated[
        int, typer.Option(min=1, max=5000, help="Messages per messages.requested command.")
    ] = 1000,
    max_attempts: Annotated[
        int, typer.Option(min=1, max=50, help="Provider calls allowed per message.")
    ] = 5,
    reporting: Annotated[
        int,
        typer.Option(
            min=0,
            help="Reporting replicas projecting the run's events; the figures then say how far "
            "its projections trail the sends.",
        ),
    ] = 0,
    json_file: Annotated[
        Path | None, typer.Option(help="Also write the figures as JSON to this file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON on stdout instead.")
    ] = False,
) -> None:
    """Run the dispatcher at full load against the simulator and print its figures.

    Uses DATABASE_URL / NATS_URL when set, else embedded servers; either way a fresh database
    and stream prefix that are dropped at the end. Exits 1 when a check fails (a limit broken,
    a message lost or sent twice, the run unfinished).
    """
    from disparo.bench.command import progress_printer, run_and_report
    from disparo.bench.report import render, summarize
    from disparo.bench.run import BenchFailed, BenchOptions, DispatchBench
    from disparo.devstack import DevStackSettings
    from disparo_shared.logging import configure_logging

    if dialect not in (EVOLUTION, CLOUD, MIXED):
        raise typer.BadParameter(f"must be {EVOLUTION}, {CLOUD} or {MIXED}", param_hint="--dialect")
    counts = _replica_counts(replicas)
    if kill:
        counts = [max(2, n) for n in counts]
    if webhooks is None:
        webhooks = kill > 0
    err = Console(stderr=True)
    configure_logging("WARNING")  # to stderr: with --json, stdout holds the figures alone
    servers = DevStackSettings()  # DATABASE_URL / NATS_URL, as ``disparo dev`` reads them
    options = BenchOptions(
        messages=messages,
        senders=senders,
        rate_per_second=rate,
        replicas=counts[0],
        dialect=dialect,
        typing_indicator=typing_indicator,
        urgent=urgent,
        webhooks=webhooks,
        faults=faults,
        kills=kill,
        timeout_seconds=timeout,
        batch_size=batch_size,
        max_attempts=max_attempts,
        database_url=servers.database_url,
        nats_url=servers.nats_url,
        reporting=reporting,
        intake_urgent=intake_urgent,
    )
    if len(counts) > 1:
        from disparo.bench.scaling import run_scaling

        run_scaling(options, counts, err, json_file=json_file, as_json=as_json)
        return
    run_and_report(
        DispatchBench(options, progress_printer(err)).run(),
        failures=(BenchFailed,),
        summarize=summarize,
        render=render,
        json_file=json_file,
        as_json=as_json,
        err=err,
    )


def _replica_counts(replicas: str) -> list[int]:
    try:
        counts = [int(part) for part in replicas.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise typer.BadParameter("a count ≥ 1, or counts like 1,2,3", param_hint="--replicas")
    return counts
