"""``disparo bench campaigns``: campaign-api at a million contacts, over HTTP, against the queue.

Real processes, nothing mocked: Postgres and NATS (from the environment or embedded),
campaign-api, and a dispatcher without senders (it persists what it is asked to send and sends
nothing). The run imports generated doctors through the streamed import, previews a segment
with three conditions and an OR group, and starts a campaign to everyone, timing it until every
message is in the dispatcher's queue; see ``campaigns_run`` for the phases.

Checks are what must hold for the run to pass (every row imported, every recipient's message
persisted once); goals are the issue's targets (≥ 50,000 rows/s, preview p99 ≤ 200 ms, queue
full within 60 s, ≤ 300 MB per service), reported as met or not, never asserted.
"""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from disparo.bench import bench_app

IMPORT_GOAL_ROWS_PER_SECOND = 50_000
PREVIEW_P99_GOAL_SECONDS = 0.200
PERSIST_GOAL_SECONDS = 60.0
SERVICE_RSS_GOAL_MB = 300.0


@bench_app.command("campaigns")
def campaigns(
    contacts: Annotated[
        int, typer.Option(min=1, help="Generated contacts to import (the issue's figure: 1M).")
    ] = 1_000_000,
    previews: Annotated[
        int, typer.Option(min=1, help="Segment preview requests, one at a time.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the generated contacts.")] = 7,
    timeout: Annotated[
        float, typer.Option(min=10, help="Seconds the whole run may take before it gives up.")
    ] = 1800.0,
    json_file: Annotated[
        Path | None, typer.Option(help="Also write the figures as JSON to this file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON on stdout instead.")
    ] = False,
) -> None:
    """Import contacts, preview a segment and start a campaign to all of them; print figures.

    Uses DATABASE_URL / NATS_URL when set, else embedded servers; either way a fresh database
    and stream prefix that are dropped at the end. The dispatcher runs without senders, so
    messages are persisted in its queue and none is sent. Exits 1 when a check fails (rows
    lost, messages missing), 2 when the run could not complete.
    """
    import httpx

    from disparo.bench.campaigns_run import (
        CampaignsBench,
        CampaignsBenchFailed,
        CampaignsOptions,
    )
    from disparo.bench.command import progress_printer, run_and_report
    from disparo.devstack import DevStackSettings
    from disparo_shared.logging import configure_logging

    err = Console(stderr=True)
    configure_logging("WARNING")  # to stderr: with --json, stdout holds the figures alone
    servers = DevStackSettings()  # DATABASE_URL / NATS_URL, as ``disparo dev`` reads them
    options = CampaignsOptions(
        contacts=contacts,
        previews=previews,
        seed=seed,
        timeout_seconds=timeout,
        database_url=servers.database_url,
        nats_url=servers.nats_url,
    )
    run_and_report(
        CampaignsBench(options, progress_printer(err)).run(),
        failures=(CampaignsBenchFailed, httpx.HTTPError),
        summarize=summarize,
        render=render,
        json_file=json_file,
        as_json=as_json,
        err=err,
    )


# ---------------------------------------------------------------------------------------------
# Figures


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _cpu(spent: Any) -> dict[str, Any]:
    """A phase's CPU seconds: per process, and Postgres's split by client (when visible)."""
    return {"processes": spent.processes, "postgres_by_client": spent.postgres_by_client}


def summarize(evidence: Any) -> dict[str, Any]:
    """Every figure of a run (``campaigns_run.CampaignsEvidence``), JSON-ready."""
    from disparo.bench.analysis import percentile
    from disparo.bench.campaigns_run import (
        BENCHMARK,
        CAMPAIGN_API,
        DISPATCHER_NAME,
        PREVIEW_FILTER,
    )
    from disparo.bench.report import machine

    options = evidence.options
    imported, previews, campaign = evidence.imported, evidence.previews, evidence.campaign
    answer = imported.answer
    rows_per_second = answer["received"] / imported.seconds if imported.seconds > 0 else 0.0
    latencies = previews.latencies_seconds
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    run_peaks = evidence.run_peak_rss_mb
    service_peaks = {name: run_peaks.get(name) for name in (CAMPAIGN_API, DISPATCHER_NAME)}
    contacts_stored = answer["inserted"] + answer["updated"] + answer["unchanged"]
    checks = {
        "every_row_imported": answer["received"] == options.contacts
        and answer["invalid"] == 0
        and contacts_stored == options.contacts,
        "previews_agree": previews.counts_agree,
        "audience_is_everyone": campaign.audience_size == contacts_stored,
        "every_message_persisted": campaign.persisted_seconds is not None
        and campaign.persisted == campaign.audience_size,
        "nothing_sent": all(
            s["state"] == "queued" and not s["has_sender"] for s in campaign.states
        ),
    }
    goals = {
        "import_at_least_50k_rows_per_second": rows_per_second >= IMPORT_GOAL_ROWS_PER_SECOND,
        "preview_p99_at_most_200ms": p99 is not None and p99 <= PREVIEW_P99_GOAL_SECONDS,
        "persisted_within_60s": campaign.persisted_seconds is not None
        and campaign.persisted_seconds <= PERSIST_GOAL_SECONDS,
        "each_service_at_most_300mb": all(
            v is not None and v <= SERVICE_RSS_GOAL_MB for v in service_peaks.values()
        ),
    }
    return {
        "machine": machine(),
        "scenario": {
            "contacts": options.contacts,
            "previews": options.previews,
            "seed": options.seed,
            "servers": "embedded" if evidence.servers_embedded else "DATABASE_URL / NATS_URL",
            "dispatcher": "no senders: messages are persisted in its queue, none is sent",
            "service_env": evidence.service_env,
        },
        "import": {
            "rows": answer["received"],
            "seconds": round(imported.seconds, 2),
            "rows_per_second": round(rows_per_second),
            "body_mb": round(imported.body_bytes / 2**20, 1),
            "inserted": answer["inserted"],
            "updated": answer["updated"],
            "unchanged": answer["unchanged"],
            "duplicates": answer["duplicates"],
            "invalid": answer["invalid"],
            "peak_rss_mb": {
                CAMPAIGN_API: imported.peak_rss_mb.get(CAMPAIGN_API),
                BENCHMARK: imported.peak_rss_mb.get(BENCHMARK),
            },
            "cpu_seconds": _cpu(imported.cpu),
        },
        "preview": {
            "requests": len(latencies),
            "filter": PREVIEW_FILTER,
            "audience": previews.audience_count,
            "p50_ms": _ms(p50),
            "p99_ms": _ms(p99),
            "max_ms": _ms(max(latencies, default=None)),
            "mean_ms": _ms(sum(latencies) / len(latencies) if latencies else None),
            "cpu_seconds": _cpu(previews.cpu),
        },
        "campaign": {
            "campaign_id": campaign.campaign_id,
            "audience": campaign.audience_size,
            "start_request_seconds": round(campaign.start_request_seconds, 2),
            "fanout_seconds": _round(campaign.fanout_seconds, 2),
            "persisted_seconds": _round(campaign.persisted_seconds, 2),
            "persisted": campaign.persisted,
            "messages_per_second": round(campaign.persisted / campaign.persisted_seconds)
            if campaign.persisted_seconds
            else None,
            "queue_states": campaign.states,
            "peak_rss_mb": {
                name: campaign.peak_rss_mb.get(name) for name in (CAMPAIGN_API, DISPATCHER_NAME)
            },
            "queue_count_queries": campaign.count_queries,
            "queue_count_query_seconds": campaign.count_query_seconds,
            "cpu_seconds": _cpu(campaign.cpu),
        },
        "memory": {
            "run_peak_rss_mb": run_peaks,
            "sampling": "RSS of each process (with its children; the benchmark alone) every 100 ms",
        },
        "checks": checks,
        "goals": goals,
        "passed": all(checks.values()),
        "log_dir": str(evidence.log_dir) if evidence.log_dir else None,
        "notes": evidence.notes,
    }


def _yes(ok: bool) -> str:
    return "[green]✓[/green]" if ok else "[red]✗[/red]"


def _seconds_text(spent: dict[str, float]) -> str:
    return ", ".join(f"{name} {s:.0f}s" for name, s in sorted(spent.items())) or "n/a"


def _cpu_rows(row: Any, cpu: dict[str, Any]) -> None:
    row("  CPU seconds", _seconds_text(cpu["processes"]))
    if cpu["postgres_by_client"]:
        row("  Postgres CPU by client", _seconds_text(cpu["postgres_by_client"]))


def render(summary: dict[str, Any], console: Console) -> None:
    """The summary as one table: figure, value, and whether it meets its check or goal."""
    scenario, imported, preview = summary["scenario"], summary["import"], summary["preview"]
    campaign, checks, goals = summary["campaign"], summary["checks"], summary["goals"]
    m, run_peaks = summary["machine"], summary["memory"]["run_peak_rss_mb"]
    table = Table(
        title=f"disparo bench campaigns — {scenario['contacts']:,} contacts, "
        f"{scenario['servers']} servers",
        title_justify="left",
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("", justify="center")

    def row(name: str, value: object, ok: bool | None = None) -> None:
        table.add_row(name, str(value), "" if ok is None else _yes(ok))

    row("machine", f"{m['cpus']} CPUs, {m['memory_gb']} GB, Python {m['python']}")
    row(
        "import (streamed CSV)",
        f"{imported['rows_per_second']:,} rows/s ({imported['rows']:,} rows, "
        f"{imported['body_mb']} MB in {imported['seconds']:.1f}s)",
        goals["import_at_least_50k_rows_per_second"],
    )
    row(
        "  inserted / updated / invalid",
        f"{imported['inserted']:,} / {imported['updated']:,} / {imported['invalid']:,}",
        checks["every_row_imported"],
    )
    peaks = imported["peak_rss_mb"]
    row(
        "  peak RSS campaign-api / benchmark",
        f"{peaks['campaign-api']} / {peaks['benchmark']} MB",
    )
    _cpu_rows(row, imported["cpu_seconds"])
    row(
        "segment preview p50 / p99",
        f"{preview['p50_ms']} / {preview['p99_ms']} ms (max {preview['max_ms']}, "
        f"{preview['requests']} requests)",
        goals["preview_p99_at_most_200ms"],
    )
    row("  audience of the preview", f"{preview['audience']:,}", checks["previews_agree"])
    _cpu_rows(row, preview["cpu_seconds"])
    row(
        "campaign to everyone",
        f"{campaign['audience']:,} recipients",
        checks["audience_is_everyone"],
    )
    row("  start request (audience snapshot)", f"{campaign['start_request_seconds']:.1f}s")
    fanout = campaign["fanout_seconds"]
    row("  start → every message requested", "n/a" if fanout is None else f"{fanout:.1f}s")
    persisted = campaign["persisted_seconds"]
    row(
        "  start → every message in the queue",
        "not reached"
        if persisted is None
        else f"{persisted:.1f}s ({campaign['messages_per_second']:,} msg/s)",
        goals["persisted_within_60s"],
    )
    row(
        "  persisted in dispatcher.messages",
        f"{campaign['persisted']:,}",
        checks["every_message_persisted"],
    )
    row(
        "  queue states",
        ", ".join(
            f"{s['state']}{'' if s['has_sender'] else ' (no sender)'} {s['messages']:,}"
            for s in campaign["queue_states"]
        )
        or "empty",
        checks["nothing_sent"],
    )
    cpeaks = campaign["peak_rss_mb"]
    row(
        "  peak RSS campaign-api / dispatcher",
        f"{cpeaks['campaign-api']} / {cpeaks['dispatcher']} MB",
    )
    _cpu_rows(row, campaign["cpu_seconds"])
    row(
        "  the benchmark's queue counts",
        f"{campaign['queue_count_queries']} queries, "
        f"{campaign['queue_count_query_seconds']:.1f}s in all",
    )
    row(
        "peak RSS over the run, per service",
        f"campaign-api {run_peaks.get('campaign-api')} MB, "
        f"dispatcher {run_peaks.get('dispatcher')} MB",
        goals["each_service_at_most_300mb"],
    )
    row("checks", "passed" if summary["passed"] else "FAILED", summary["passed"])
    console.print(table)
    if scenario["service_env"]:
        console.print(f"service settings from this shell: {scenario['service_env']}")
    console.print(
        "Goals (≥ 50,000 rows/s, preview p99 ≤ 200 ms, queue full ≤ 60 s, ≤ 300 MB per "
        "service) are reported, not asserted. The dispatcher had no senders: messages were "
        "persisted, none sent."
    )
    for note in summary["notes"]:
        console.print(f"note: {note}")
    if summary["log_dir"]:
        console.print(f"service logs: {summary['log_dir']}")
