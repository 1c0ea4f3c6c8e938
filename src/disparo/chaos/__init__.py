"""``disparo chaos``: the whole stack as processes, faults injected one at a time, invariants
judged from the simulator's log and the databases after each (``run``, ``invariants``)."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from disparo.chaos.run import FAULTS

DEFAULT_FAULTS = ",".join(FAULTS)


def chaos(
    faults: Annotated[
        str,
        typer.Option(help="Faults to inject, in order, comma-separated: " + ", ".join(FAULTS)),
    ] = DEFAULT_FAULTS,
    doctors: Annotated[
        int, typer.Option(min=10, help="Doctors per fault: each fault's campaign goes to them.")
    ] = 200,
    senders: Annotated[int, typer.Option(min=1, help="Simulated Evolution numbers.")] = 4,
    rate: Annotated[
        int, typer.Option(min=1, help="Messages per second allowed per number (both sides).")
    ] = 10,
    round_timeout: Annotated[
        float, typer.Option(min=10, help="Seconds a fault's round may take to settle.")
    ] = 240.0,
    json_file: Annotated[
        Path | None, typer.Option(help="Also write the figures as JSON to this file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON on stdout instead.")
    ] = False,
) -> None:
    """Start the whole stack, inject faults one at a time, and check nothing was lost or doubled.

    Uses DATABASE_URL / NATS_URL when set (then the NATS and Postgres restarts are skipped: the
    servers are not the run's), else embedded servers; either way a fresh database and stream
    prefix, dropped at the end. Exits 1 when an invariant is broken, 2 when the run could not
    complete.
    """
    from disparo.bench.command import progress_printer, run_and_report
    from disparo.chaos.report import render, summarize
    from disparo.chaos.run import ChaosFailed, ChaosOptions, ChaosRun
    from disparo.devstack import DevStackSettings
    from disparo_shared.logging import configure_logging

    chosen = [f.strip() for f in faults.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FAULTS]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown fault(s) {unknown}; choose from {', '.join(FAULTS)}", param_hint="--faults"
        )
    err = Console(stderr=True)
    configure_logging("WARNING")
    servers = DevStackSettings()
    options = ChaosOptions(
        faults=chosen,
        doctors=doctors,
        senders=senders,
        rate_per_second=rate,
        round_timeout_seconds=round_timeout,
        database_url=servers.database_url,
        nats_url=servers.nats_url,
    )
    run_and_report(
        ChaosRun(options, progress_printer(err)).run(),
        failures=(ChaosFailed,),
        summarize=summarize,
        render=render,
        json_file=json_file,
        as_json=as_json,
        err=err,
    )
