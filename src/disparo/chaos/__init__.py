"""``disparo chaos``: the whole stack as processes, faults injected one at a time, invariants
judged from the simulator's log and the databases after each (``run``, ``invariants``)."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from disparo.chaos.run import CLUSTER_FAULTS, FAULTS

DEFAULT_FAULTS = ",".join(f for f in FAULTS if f not in CLUSTER_FAULTS)
CLUSTER_DEFAULT_FAULTS = ",".join(f for f in FAULTS if f in CLUSTER_FAULTS)


def chaos(
    faults: Annotated[
        str | None,
        typer.Option(
            help="Faults to inject, in order, comma-separated: "
            + ", ".join(FAULTS)
            + f" [default: {DEFAULT_FAULTS}; with --cluster: {CLUSTER_DEFAULT_FAULTS}]",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="NATS as a three-node JetStream cluster of the run's own on loopback (R3 "
            "streams, every service given the three URLs), for the nats-node and nats-leader "
            "faults; NATS_URL is then not used.",
        ),
    ] = False,
    doctors: Annotated[
        int, typer.Option(min=10, help="Doctors per fault: each fault's campaign goes to them.")
    ] = 200,
    senders: Annotated[int, typer.Option(min=1, help="Simulated Evolution numbers.")] = 4,
    cloud_senders: Annotated[
        int,
        typer.Option(
            min=0,
            help="Simulated Cloud API numbers: their doubts cannot be settled by asking, so the "
            "in-doubt policies decide (campaigns held for a person, replies sent again).",
        ),
    ] = 2,
    rate: Annotated[
        int, typer.Option(min=1, help="Messages per second allowed per number (both sides).")
    ] = 10,
    stall_timeout: Annotated[
        float,
        typer.Option(
            min=10,
            help="Seconds a round may go without any progress (sends, queue states, backlogs, "
            "reports) before it is called stuck; a slow round on a loaded machine is not.",
        ),
    ] = 120.0,
    json_file: Annotated[
        Path | None, typer.Option(help="Also write the figures as JSON to this file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON on stdout instead.")
    ] = False,
) -> None:
    """Start the whole stack, inject faults one at a time, and check nothing was lost or doubled.

    Uses DATABASE_URL / NATS_URL when set (then the NATS and Postgres restarts are skipped: the
    servers are not the run's), else embedded servers; with --cluster, NATS is a three-node
    cluster the run starts (the nats-node and nats-leader faults need it). Either way a fresh
    database and stream prefix, dropped at the end. Exits 1 when an invariant is broken, 2 when
    the run could not complete.
    """
    from disparo.bench.command import progress_printer, run_and_report
    from disparo.chaos.report import render, summarize
    from disparo.chaos.run import ChaosFailed, ChaosOptions, ChaosRun
    from disparo.devstack import DevStackSettings
    from disparo_shared.logging import configure_logging

    if faults is None:
        faults = CLUSTER_DEFAULT_FAULTS if cluster else DEFAULT_FAULTS
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
        cloud_senders=cloud_senders,
        rate_per_second=rate,
        stall_seconds=stall_timeout,
        database_url=servers.database_url,
        nats_url=servers.nats_url,
        cluster=cluster,
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
