"""The figures of a dispatch run: one JSON-ready summary, and a table for people.

Checks are what must hold for the run to pass (no limit broken, nothing lost, nothing sent
twice, faults handled as promised); goals are the performance targets of the issue (≥ 95 % of
the allowed aggregate rate, urgent p99 ≤ 1 s), reported as met or not, never asserted.
"""

import os
import platform

import psutil
from rich.console import Console
from rich.table import Table

from disparo.bench.analysis import (
    LoopLag,
    claim_cost_by_backlog,
    claim_cost_spread,
    loop_lag_around,
    outcomes,
    peak_per_sender,
    percentile,
    sending_during_intake,
    throughput,
    timeline,
    urgent_latency,
)
from disparo.bench.run import RunEvidence

THROUGHPUT_GOAL = 0.95
URGENT_P99_GOAL_SECONDS = 1.0
INTAKE_SENDING_GOAL = 0.8  # campaign sending during the intake, over its rate after it
CLAIM_SPREAD_GOAL = 1.5  # dearest backlog band's claim cost per message over the cheapest's
# The goal is the claim's cost at 10,000, a million and five million queued. Below 10,000 a run
# is draining its last messages: a claim finds few due per number, so its fixed cost is shared by
# few, whatever the backlog. That band is printed, and its spread, but the verdict starts above it.
CLAIM_SPREAD_FROM_BACKLOG = 10_000
_TRANSIENT_CODES = {"timeout", "130429", "80007", "4", "2", "connect_error", "network_error"}


def _lag(lag: LoopLag | None) -> dict | None:
    if lag is None:
        return None
    return {"mean_ms": round(lag.mean_ms, 1), "late_share": round(lag.late_share, 3)}


def is_transient(code: str | None) -> bool:
    """Whether a dead message's last error was a retryable one (it died of exhausted retries)."""
    return code is not None and (code in _TRANSIENT_CODES or code.startswith("http_5"))


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _bound(seconds: float | None) -> str:
    """A histogram bucket's upper bound in ms ("–" before any observation)."""
    if seconds is None:
        return "–"
    return "past the last bucket" if seconds == float("inf") else f"{seconds * 1000:g} ms"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summarize(evidence: RunEvidence) -> dict:
    """Every figure of the run, JSON-ready."""
    options = evidence.options
    stats = evidence.simulator_stats
    sends = evidence.sends
    requested = evidence.campaign_ids | set(evidence.urgent_published_at)
    speed = throughput(sends, options.allowed_per_second)
    peaks = peak_per_sender(sends)
    sim_peak = max((s["max_per_second"] for s in stats.get("by_sender", {}).values()), default=0)
    log_peak = max(peaks.values(), default=0)
    latency = urgent_latency(evidence.urgent_published_at, sends, evidence.campaign_ids)
    during_intake = evidence.intake_urgent_ids
    intake_latency = urgent_latency(
        {m: at for m, at in evidence.urgent_published_at.items() if m in during_intake},
        sends,
        evidence.campaign_ids,
    )
    intake = sending_during_intake(
        [s for s in sends if s.message_id in evidence.campaign_ids], evidence.ingested_unix
    )
    to_queue = {
        m: evidence.urgent_enqueued_at[m] - at
        for m, at in evidence.urgent_published_at.items()
        if m in evidence.urgent_enqueued_at
    }
    intake_to_queue = [seconds for m, seconds in to_queue.items() if m in during_intake]
    lag_during, lag_after = loop_lag_around(evidence.queue_samples, evidence.ingest_seconds)
    accepted_ids = {send.message_id for send in sends}
    urgent_dead = sum(
        1
        for m in evidence.urgent_published_at
        if m not in accepted_ids and evidence.queue_states.get(m) == "dead"
    )
    result = outcomes(requested, sends, evidence.queue_states, evidence.dead_codes)
    dead_transient = sum(1 for code in evidence.dead_codes.values() if is_transient(code))
    permanent_not_dead = sum(
        1 for m in evidence.permanent_ids if evidence.queue_states.get(m) != "dead"
    )
    per_thousand = max(1, result.accepted) / 1000
    cpu = {
        group: {"seconds": round(seconds, 1), "per_1000_messages": round(seconds / per_thousand, 3)}
        for group, seconds in sorted(evidence.cpu_seconds.items())
    }
    ingest = evidence.ingest_seconds
    checks = {
        "completed": evidence.completed,
        "no_limit_violations": stats.get("violations", 0) == 0,
        "peak_per_number_within_rate": max(sim_peak, log_peak) <= options.rate_per_second,
        "none_lost": result.lost == 0,
        "none_sent_twice": result.sent_twice == 0 and stats.get("duplicates", 0) == 0,
        "dead_only_if_not_sent": result.dead_but_accepted == 0,
        "every_urgent_finished": latency.sent + urgent_dead == latency.published,
    }
    if options.faults:
        checks["every_transient_failure_sent"] = dead_transient == 0
        checks["every_permanent_failure_dead"] = permanent_not_dead == 0
    if options.kills:
        checks["every_kill_done"] = evidence.kills_done == options.kills
    claim_costs = claim_cost_by_backlog(evidence.queue_samples)
    spread = claim_cost_spread(claim_costs, from_backlog=CLAIM_SPREAD_FROM_BACKLOG)
    goals = {
        "throughput_at_least_95_percent": speed.fraction_of_allowed >= THROUGHPUT_GOAL,
        "urgent_p99_at_most_1s": latency.p99 is not None and latency.p99 <= URGENT_P99_GOAL_SECONDS,
    }
    if spread is not None:
        goals["claim_cost_within_1_5x_across_backlogs"] = spread <= CLAIM_SPREAD_GOAL
    return {
        "machine": machine(),
        "scenario": {
            "messages": options.messages,
            "urgent": options.urgent,
            "senders": options.senders,
            "rate_per_second": options.rate_per_second,
            "allowed_per_second": options.allowed_per_second,
            "dialect": options.dialect,
            "replicas": options.replicas,
            "faults": options.faults,
            "kills": options.kills,
            "typing_indicator": options.typing_indicator,
            "webhooks": options.webhooks,
            "max_attempts": options.max_attempts,
            "batch_size": options.batch_size,
            "embedded_servers": evidence.servers_embedded,
            "dispatcher_env": evidence.dispatcher_env,
        },
        "throughput": {
            "accepted_sends": speed.sends,
            "first_to_last_seconds": round(speed.seconds, 2),
            "per_second": round(speed.per_second, 1),
            "fraction_of_allowed": round(speed.fraction_of_allowed, 4),
        },
        "load": {
            "publish_seconds": round(evidence.publish_seconds, 2),
            "ingest_seconds": None if ingest is None else round(ingest, 2),
            "ingest_per_second": None if not ingest else round(options.messages / ingest, 1),
            "drain_seconds": round(evidence.drain_seconds, 2),
        },
        "limits": {
            "violations": stats.get("violations", 0),
            "throttled": stats.get("throttled", 0),
            "pair_limited": stats.get("pair_limited", 0),
            "peak_per_number_per_second_simulator": sim_peak,
            "peak_per_number_per_second_send_log": log_peak,
            "rate_per_second": options.rate_per_second,
        },
        "urgent": {
            "published": latency.published,
            "sent": latency.sent,
            "dead": urgent_dead,
            "published_during_backlog": latency.during_backlog,
            "p50_ms": _ms(latency.p50),
            "p99_ms": _ms(latency.p99),
            "max_ms": _ms(latency.max),
            "publish_to_enqueued_p50_ms": _ms(percentile(list(to_queue.values()), 0.50)),
            "publish_to_enqueued_p99_ms": _ms(percentile(list(to_queue.values()), 0.99)),
            # its parts from the dispatchers' histograms: the bucket's upper bound, in seconds
            "intake_buckets_s": evidence.urgent_intake,
            "clock": "publish time and the simulator's accepted_at, same machine clock",
        },
        "intake": {
            "urgent_published": intake_latency.published,
            "urgent_sent": intake_latency.sent,
            "urgent_p50_ms": _ms(intake_latency.p50),
            "urgent_p99_ms": _ms(intake_latency.p99),
            "urgent_max_ms": _ms(intake_latency.max),
            "urgent_publish_to_enqueued_p50_ms": _ms(percentile(intake_to_queue, 0.50)),
            "urgent_publish_to_enqueued_p99_ms": _ms(percentile(intake_to_queue, 0.99)),
            "sending_per_second_during": _round(intake.during_per_second),
            "sending_per_second_after": _round(intake.after_per_second),
            "sending_during_over_after": _round(intake.ratio, 3),
            "dispatcher_loop_lag_during": _lag(lag_during),
            "dispatcher_loop_lag_after": _lag(lag_after),
        },
        "cpu": cpu,
        "outcomes": {
            "requested": result.requested,
            "accepted": result.accepted,
            "sent_twice": result.sent_twice,
            "extra_sends": result.extra_sends,
            "simulator_duplicates": stats.get("duplicates", 0),
            "dead": result.dead,
            "dead_by_reason": result.dead_by_reason,
            "dead_but_accepted": result.dead_but_accepted,
            "lost": result.lost,
            "unfinished": result.unfinished,
            "lost_states": result.lost_states,
            "unknown_sends": result.unknown_sends,
        },
        "faults": {
            "simulator_5xx": stats.get("errors_5xx", 0),
            "simulator_timeouts": stats.get("timeouts", 0),
            "simulator_permanent": stats.get("permanent", 0),
            "retried_then_sent_messages": evidence.retried_and_sent.get("messages", 0),
            "retried_then_sent_extra_attempts": evidence.retried_and_sent.get("extra_attempts", 0),
            "dead_after_transient_failures": dead_transient,
            "permanent_failures_not_dead": permanent_not_dead,
            "dead_reasons": [
                {
                    "code": r["code"],
                    "messages": r["messages"],
                    "example": (r["example"] or "")[:120],
                }
                for r in evidence.dead_reasons
            ],
        },
        "kills": {"asked": options.kills, "done": evidence.kills_done},
        "queue_tables": evidence.queue_tables,
        "claim_cost_by_backlog": {
            "bands": [
                {
                    "backlog_from": cost.low,
                    "backlog_to": cost.high,
                    "intervals": cost.intervals,
                    "claimed": cost.claimed,
                    "us_per_message": round(cost.us_per_message, 1),
                    "p50_us": _round(cost.p50_us),
                    "p95_us": _round(cost.p95_us),
                }
                for cost in claim_costs
            ],
            "spread": _round(spread, 2),
            "spread_from_backlog": CLAIM_SPREAD_FROM_BACKLOG,
            "spread_all_bands": _round(claim_cost_spread(claim_costs), 2),
        },
        "timeline": [
            {
                "at_seconds": round(r.at, 1),
                "queued": r.queued,
                "pending": r.pending,
                "sent_per_second": round(r.sent_per_second, 1),
                "claims": r.claims,
                "claim_ms": _round(r.claim_ms, 2),
                "claim_us_per_message": _round(r.claim_us_per_message),
                "loop_lag_ms": None if r.lag is None else round(r.lag.mean_ms, 1),
                "loop_late_share": None if r.lag is None else round(r.lag.late_share, 3),
            }
            for r in timeline(evidence.queue_samples)
        ],
        "webhooks": {
            key: stats[key]
            for key in (
                "webhooks_posted",
                "webhook_failures",
                "webhooks_pending",
                "webhook_backlog",
                "echoes_posted",
            )
            if key in stats
        },
        "replica_shares": replica_shares(evidence),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "checks": checks,
        "passed": all(checks.values()),
        "goals": goals,
        "notes": evidence.notes,
        "log_dir": str(evidence.log_dir),
        "reporting": evidence.reporting,
    }


def replica_shares(evidence: RunEvidence) -> dict[str, dict[str, float]]:
    """Each replica's share of the senders (leases held, averaged while there was work) and of
    the sends (messages it claimed), keyed by replica number: evenness across replicas."""
    claimed = {name.rsplit("-", 1)[-1]: n for name, n in evidence.claimed_by_replica.items()}
    held = {replica.rsplit("-", 1)[-1]: n for replica, n in evidence.senders_by_replica.items()}
    all_claimed = sum(claimed.values()) or 1.0
    all_held = sum(held.values()) or 1.0
    return {
        number: {
            "senders_held": round(held.get(number, 0.0), 2),
            "share_of_senders": round(held.get(number, 0.0) / all_held, 3),
            "claimed": int(claimed.get(number, 0.0)),
            "share_of_sends": round(claimed.get(number, 0.0) / all_claimed, 3),
        }
        for number in sorted(set(claimed) | set(held), key=int)
    }


def _yes(ok: bool) -> str:
    return "[green]✓[/green]" if ok else "[red]✗[/red]"


def render(summary: dict, console: Console) -> None:
    """The summary as one table: figure, value, and whether it meets its check or goal."""
    scenario, speed, limits = summary["scenario"], summary["throughput"], summary["limits"]
    urgent, outcome, faults = summary["urgent"], summary["outcomes"], summary["faults"]
    checks, goals, load = summary["checks"], summary["goals"], summary["load"]
    m = summary["machine"]
    title = (
        f"disparo bench dispatch — {scenario['messages']:,} messages, "
        f"{scenario['senders']} × {scenario['rate_per_second']}/s {scenario['dialect']}, "
        f"{scenario['replicas']} replica(s)"
        + (", faults" if scenario["faults"] else "")
        + (f", {scenario['kills']} kills" if scenario["kills"] else "")
    )
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("", justify="center")

    def row(name: str, value: object, ok: bool | None = None) -> None:
        table.add_row(name, str(value), "" if ok is None else _yes(ok))

    row("machine", f"{m['cpus']} CPUs, {m['memory_gb']} GB, Python {m['python']}")
    row(
        "sustained throughput",
        f"{speed['per_second']:,.0f} msg/s over {speed['first_to_last_seconds']:.1f}s",
    )
    row(
        "  of the allowed aggregate",
        f"{speed['fraction_of_allowed']:.1%} of {scenario['allowed_per_second']:,}/s",
        goals["throughput_at_least_95_percent"],
    )
    ingest = load["ingest_per_second"]
    row(
        "enqueue (JetStream → queue)",
        "n/a" if ingest is None else f"{ingest:,.0f} msg/s ({load['ingest_seconds']:.1f}s)",
    )
    intake = summary.get("intake")
    if intake and intake["sending_during_over_after"] is not None:
        row(
            "  campaign sending during / after intake",
            f"{intake['sending_per_second_during']:,.0f} / "
            f"{intake['sending_per_second_after']:,.0f} msg/s "
            f"({intake['sending_during_over_after']:.0%})",
            intake["sending_during_over_after"] >= INTAKE_SENDING_GOAL,
        )
    if intake and intake["urgent_published"]:
        row(
            "  urgent during intake p50 / p99",
            f"{intake['urgent_p50_ms']} / {intake['urgent_p99_ms']} ms "
            f"({intake['urgent_sent']} of {intake['urgent_published']} sent)",
            intake["urgent_p99_ms"] is not None
            and intake["urgent_p99_ms"] <= URGENT_P99_GOAL_SECONDS * 1000,
        )
        row(
            "    of which publish → enqueued p50 / p99",
            f"{intake['urgent_publish_to_enqueued_p50_ms']} / "
            f"{intake['urgent_publish_to_enqueued_p99_ms']} ms",
        )
    during, after = (
        (intake or {}).get("dispatcher_loop_lag_during"),
        (intake or {}).get("dispatcher_loop_lag_after"),
    )
    if during and after:
        row(
            "dispatcher loop lag, mean (woke > 0.1 s late): during / after the intake",
            f"{during['mean_ms']:.0f} ms ({during['late_share']:.0%}) / "
            f"{after['mean_ms']:.0f} ms ({after['late_share']:.0%})",
        )
    row("limit violations (simulator)", limits["violations"], checks["no_limit_violations"])
    row(
        "peak sends per number in 1 s",
        f"{limits['peak_per_number_per_second_simulator']} (log: "
        f"{limits['peak_per_number_per_second_send_log']}) ≤ {limits['rate_per_second']}",
        checks["peak_per_number_within_rate"],
    )
    row(
        "urgent (priority 10) p50 / p99",
        f"{urgent['p50_ms']} / {urgent['p99_ms']} ms (max {urgent['max_ms']})",
        goals["urgent_p99_at_most_1s"],
    )
    row(
        "  of which publish → enqueued p50 / p99",
        f"{urgent['publish_to_enqueued_p50_ms']} / {urgent['publish_to_enqueued_p99_ms']} ms",
    )
    buckets = urgent["intake_buckets_s"]
    if buckets:
        row(
            "    stored → handler; handler, p50 / p99 ≤",
            f"{_bound(buckets['wait_p50_s'])} / {_bound(buckets['wait_p99_s'])}; "
            f"{_bound(buckets['handler_p50_s'])} / {_bound(buckets['handler_p99_s'])}",
        )
    row(
        "  urgent sent (+dead) / during backlog",
        f"{urgent['sent']} (+{urgent['dead']}) of {urgent['published']} / "
        f"{urgent['published_during_backlog']}",
        checks["every_urgent_finished"],
    )
    for group, cpu in summary["cpu"].items():
        # "postgres: dispatcher" (``run._postgres_split``) is listed under "postgres"
        _, split, client = group.partition("postgres: ")
        label = f"  of which {client}" if split else f"CPU s per 1,000 msgs: {group}"
        row(label, f"{cpu['per_1000_messages']:.3f} ({cpu['seconds']}s)")
    row("accepted at the simulator", f"{outcome['accepted']:,} of {outcome['requested']:,}")
    row(
        "sent twice (simulator)",
        f"{outcome['sent_twice']} messages, {outcome['simulator_duplicates']} duplicate sends",
        checks["none_sent_twice"],
    )
    row(
        "dead in the queue (never sent / sent)",
        f"{outcome['dead'] + outcome['dead_but_accepted']:,} "
        f"({outcome['dead']:,} / {outcome['dead_but_accepted']:,})",
    )
    for reason in faults["dead_reasons"]:
        row(f"  dead: {reason['code']}", reason["messages"])
    row("lost", outcome["lost"], checks["none_lost"])
    tables = summary.get("queue_tables") or {}
    if tables:
        row(
            "hot queue table at the end: rows (finished) / MB",
            f"{tables['hot_rows']:,} ({tables['hot_finished_rows']:,}) / "
            f"{tables['hot_bytes'] / 1e6:.1f}",
        )
        row(
            "  archive of finished messages: rows / MB",
            f"{tables['archive_rows']:,} / {tables['archive_bytes'] / 1e6:.1f}",
        )
    if outcome["unfinished"]:
        row("unfinished (still in the queue)", f"{outcome['unfinished']:,}", False)
    row(
        "dead yet sent (queue and simulator disagree)",
        outcome["dead_but_accepted"],
        checks["dead_only_if_not_sent"],
    )
    if scenario["faults"]:
        row(
            "faults injected: 5xx / timeouts / permanent",
            f"{faults['simulator_5xx']:,} / {faults['simulator_timeouts']:,} / "
            f"{faults['simulator_permanent']:,}",
        )
        row(
            "transient failures retried, then sent",
            f"{faults['retried_then_sent_messages']:,} messages "
            f"({faults['retried_then_sent_extra_attempts']:,} extra attempts)",
        )
        row(
            "dead after transient failures",
            faults["dead_after_transient_failures"],
            checks["every_transient_failure_sent"],
        )
        row(
            "permanent failures not dead",
            faults["permanent_failures_not_dead"],
            checks["every_permanent_failure_dead"],
        )
    if scenario["webhooks"]:
        hooks = summary["webhooks"]
        row(
            "webhooks posted / failed (echoes)",
            f"{hooks.get('webhooks_posted', 'n/a')} / {hooks.get('webhook_failures', 'n/a')} "
            f"({hooks.get('echoes_posted', 'n/a')})",
        )
    if scenario["kills"]:
        kills = summary["kills"]
        row(
            "kill -9 and restart", f"{kills['done']} of {kills['asked']}", checks["every_kill_done"]
        )
    row("completed within the timeout", "yes" if checks["completed"] else "no", checks["completed"])
    console.print(table)
    _render_claim_costs(summary, console)
    _render_timeline(summary["timeline"], console)
    _render_reporting(summary.get("reporting") or {}, console)
    settings = " ".join(f"{k}={v}" for k, v in sorted(scenario["dispatcher_env"].items()))
    console.print(f"[dim]dispatcher settings: {settings}[/dim]")
    for note in summary["notes"]:
        console.print(f"note: {note}")
    console.print(
        "Latency is the simulator's accepted_at minus the publish time, one machine's clock. "
        f"Process logs: {summary['log_dir']}"
    )
    verdict = (
        "[green]all checks passed[/green]" if summary["passed"] else "[red]checks failed[/red]"
    )
    console.print(verdict)


def _render_reporting(reporting: dict, console: Console) -> None:
    """With --reporting: its projections' pace and how far they trailed the sends."""
    if not reporting:
        return
    catch_up = reporting["catch_up_seconds"]
    console.print(
        f"reporting: {reporting['events']:,} events projected, "
        f"{reporting['events_per_second'] or 0:,.0f} events/s until it had every send; "
        f"largest lag {reporting['lag_max_sends']:,} sends; "
        + (f"caught up {catch_up:.1f}s after the last send; " if catch_up is not None else "")
        + f"CPU-s per 1,000 events {reporting['cpu_seconds_per_1000_events']}, "
        f"per 1,000 sends {reporting['cpu_seconds_per_1000_sends']}"
    )
    table = Table(title="reporting by sample", title_justify="left")
    for name in ("t (s)", "sends accepted", "sends projected", "lag", "events"):
        table.add_column(name, justify="right")
    samples = reporting["by_sample"]
    step = max(1, len(samples) // 30)
    for s in samples[::step]:
        table.add_row(
            f"{s['at']:.0f}",
            f"{s['accepted']:,}",
            f"{s['projected_sent']:,}",
            f"{s['accepted'] - s['projected_sent']:,}",
            f"{s['events']:,}",
        )
    console.print(table)


def _render_claim_costs(summary: dict, console: Console) -> None:
    costs = summary["claim_cost_by_backlog"]
    if not costs["bands"]:
        return
    table = Table(
        title="claim cost by backlog (µs of claim statement per message claimed)",
        title_justify="left",
    )
    for column in ("backlog", "intervals", "claimed", "µs/msg", "p50", "p95"):
        table.add_column(column, justify="right")
    for band in costs["bands"]:
        high = band["backlog_to"]
        table.add_row(
            f"{band['backlog_from']:,}–{high:,}" if high else f"≥ {band['backlog_from']:,}",
            str(band["intervals"]),
            f"{band['claimed']:,}",
            f"{band['us_per_message']:,.1f}",
            f"{band['p50_us']:,.1f}",
            f"{band['p95_us']:,.1f}",
        )
    console.print(table)
    if costs["spread"] is not None:
        ok = summary["goals"].get("claim_cost_within_1_5x_across_backlogs", False)
        every_band = costs["spread_all_bands"]
        console.print(
            f"dearest band over cheapest from a backlog of {costs['spread_from_backlog']:,}: "
            f"{costs['spread']:.2f}× {_yes(ok)} (goal ≤ 1.5×); every band: {every_band:.2f}×"
        )


def _render_timeline(rows: list[dict], console: Console) -> None:
    if not rows:
        return
    table = Table(
        title="by 10 s (lag ms: the dispatchers' mean event loop lag, and its share > 0.1 s)",
        title_justify="left",
    )
    columns = ("t (s)", "in queue", "backlog", "sent/s", "claims", "claim ms", "µs/msg", "lag ms")
    for column in columns:
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            f"{r['at_seconds']:.0f}",
            f"{r['queued']:,}",
            f"{r['pending']:,}",
            f"{r['sent_per_second']:,.0f}",
            str(r["claims"]),
            "–" if r["claim_ms"] is None else f"{r['claim_ms']:.1f}",
            "–" if r["claim_us_per_message"] is None else f"{r['claim_us_per_message']:.1f}",
            "–"
            if r["loop_lag_ms"] is None
            else f"{r['loop_lag_ms']:.0f} ({r['loop_late_share']:.0%})",
        )
    console.print(table)
