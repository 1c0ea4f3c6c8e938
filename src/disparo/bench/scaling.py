"""``disparo bench dispatch --replicas 1,2,3``: the same run once per replica count, in turn.

Each count gets a whole run of its own (fresh database and streams, the same backlog, senders
and rates); the figures that matter are the throughput per count and how evenly the replicas
share the work: each replica's average number of sender leases and its share of the sends.

What the figure means depends on the machine. The dispatcher's throughput is the sum of its
senders' rates: more replicas add sending capacity only when one replica's CPU is the limit
(its event loop is busy) and the machine has cores to spare. On a 2-core machine shared with
Postgres, NATS and the simulator, a second replica adds no CPU, so the figure there shows that
the replicas split the senders evenly and lose nothing to coordination, not how much faster
three replicas are on three nodes. The load average is printed with each count.
"""

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from disparo.bench.command import progress_printer
from disparo.bench.report import summarize
from disparo.bench.run import BenchFailed, BenchOptions, DispatchBench
from disparo.embedded import EmbeddedServerError
from disparo.processes import ProcessFailed


def run_scaling(
    options: BenchOptions,
    counts: list[int],
    err: Console,
    *,
    json_file: Path | None,
    as_json: bool,
) -> None:
    """One run per count; exits 0 when every run's checks passed, 1 when one failed, 2 when a
    run could not complete."""
    summaries = []
    for count in counts:
        err.print(f"[bold]replicas: {count}[/bold]")
        try:
            evidence = asyncio.run(
                DispatchBench(replace(options, replicas=count), progress_printer(err)).run()
            )
        except (BenchFailed, ProcessFailed, EmbeddedServerError) as failure:
            err.print(f"[red]benchmark failed at {count} replica(s):[/red] {failure!r}")
            raise typer.Exit(2) from None
        summaries.append(summarize(evidence))
    result = {"scaling": [_row(s) for s in summaries], "runs": summaries}
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        render_scaling(result, Console())
    raise typer.Exit(0 if all(s["passed"] for s in summaries) else 1)


def _row(summary: dict) -> dict:
    shares = summary["replica_shares"]
    sends = [share["share_of_sends"] for share in shares.values()]
    senders = [share["senders_held"] for share in shares.values()]
    return {
        "replicas": summary["scenario"]["replicas"],
        "per_second": summary["throughput"]["per_second"],
        "fraction_of_allowed": summary["throughput"]["fraction_of_allowed"],
        "dispatcher_cpu_per_1000": summary["cpu"].get("dispatcher", {}).get("per_1000_messages"),
        "shares": shares,
        # evenness: the busiest replica's share of the sends over an equal share (1.0 = even)
        "busiest_over_even": round(max(sends) * len(sends), 2) if sends else None,
        "senders_held_min_max": [min(senders), max(senders)] if senders else None,
        "load_average": summary["load_average"],
        "passed": summary["passed"],
    }


def render_scaling(result: dict, console: Console) -> None:
    runs = result["runs"]
    scenario = runs[0]["scenario"]
    table = Table(
        title=(
            f"disparo bench dispatch — {scenario['messages']:,} messages, "
            f"{scenario['senders']} × {scenario['rate_per_second']}/s {scenario['dialect']} "
            f"(allowed {scenario['allowed_per_second']:,}/s), by replica count"
        ),
        title_justify="left",
    )
    for column in (
        "replicas",
        "msg/s",
        "of allowed",
        "dispatcher CPU s / 1,000",
        "senders held, per replica",
        "share of sends, per replica",
        "busiest ÷ even",
        "load avg (1/5/15 min)",
        "checks",
    ):
        table.add_column(column, justify="right")
    for row in result["scaling"]:
        shares = row["shares"].values()
        table.add_row(
            str(row["replicas"]),
            f"{row['per_second']:,.0f}",
            f"{row['fraction_of_allowed']:.1%}",
            "n/a"
            if row["dispatcher_cpu_per_1000"] is None
            else f"{row['dispatcher_cpu_per_1000']}",
            " / ".join(f"{s['senders_held']:.1f}" for s in shares),
            " / ".join(f"{s['share_of_sends']:.0%}" for s in shares),
            "n/a" if row["busiest_over_even"] is None else f"{row['busiest_over_even']:.2f}",
            " ".join(f"{x:.1f}" for x in row["load_average"]),
            "[green]pass[/green]" if row["passed"] else "[red]FAIL[/red]",
        )
    console.print(table)
    console.print(
        "Throughput is the sum of the senders' rates, shared out by leases: more replicas send "
        "more only when one replica's CPU is the limit and there are cores for another. On a "
        "machine with fewer cores than replicas plus Postgres, NATS and the simulator, read the "
        "spread (senders held, share of sends), not the speed-up."
    )
