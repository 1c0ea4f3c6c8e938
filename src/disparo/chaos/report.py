"""The figures of a chaos run: one JSON-ready summary, and tables for people.

A round passes when it settled before it stalled (``progress``) and every invariant held over
the whole run so far; a skipped round (a fault the run's servers cannot take) neither passes
nor fails, and says why. The run passes when every round does and the final verdicts hold.
"""

from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from disparo.bench.report import machine
from disparo.chaos.invariants import Tally
from disparo.chaos.run import ChaosEvidence, RoundResult


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _round(result: RoundResult, before: Tally | None) -> dict:
    tally = result.tally
    delta = None
    if tally is not None:
        delta = {
            "requested": tally.requested - (before.requested if before else 0),
            "sent": tally.sent - (before.sent if before else 0),
            "sent_twice": tally.sent_twice - (before.sent_twice if before else 0),
            "twice_by_policy": tally.twice_by_policy - (before.twice_by_policy if before else 0),
            "held_in_doubt": tally.held_in_doubt - (before.held_in_doubt if before else 0),
            "dead": tally.dead - (before.dead if before else 0),
        }
    return {
        "fault": result.fault,
        "action": result.action,
        "skipped": result.skipped,
        "back_seconds": _seconds(result.back_seconds),
        "converged_seconds": _seconds(result.converged_seconds),
        "this_round": delta,
        "so_far": asdict(tally) if tally is not None else None,
        "checks": {v.name: {"ok": v.ok, "figure": v.figure} for v in result.verdicts},
        "notes": result.notes,
        "requeued_by_a_person": {"messages": result.requeued, "calls": result.requeue_calls},
        "passed": result.passed,
    }


def summarize(evidence: ChaosEvidence) -> dict:
    rounds = []
    before: Tally | None = None
    for result in evidence.rounds:
        rounds.append(_round(result, before))
        if result.tally is not None:
            before = result.tally
    stats = evidence.simulator_stats
    final = {v.name: {"ok": v.ok, "figure": v.figure} for v in evidence.final}
    options = evidence.options
    return {
        "machine": machine(),
        "options": {
            "faults": options.faults,
            "doctors_per_fault": options.doctors,
            "senders": options.senders,
            "cloud_senders": options.cloud_senders,
            "cluster": options.cluster,
            "rate_per_second": options.rate_per_second,
            "stall_seconds": options.stall_seconds,
            "embedded_servers": evidence.embedded,
        },
        "seconds": round(evidence.seconds, 1),
        "rounds": rounds,
        "final": final,
        "totals": asdict(evidence.totals) if evidence.totals is not None else None,
        "in_doubt": {
            "provider_lookups": stats.get("lookups", 0),
            "settled_by_outcome": evidence.settled,
            "policies": _policies(evidence.settled),
            "requeued_by_a_person": sum(r.requeued for r in evidence.rounds),
            "requeue_calls": sum(r.requeue_calls for r in evidence.rounds),
            "still_held_for_a_person_by_kind": evidence.held_by_kind,
        },
        "simulator": {
            key: stats.get(key)
            for key in ("accepted", "duplicates", "throttled", "pair_limited", "lookups")
        },
        "log_dir": str(evidence.log_dir),
        "passed": all(r["passed"] for r in rounds) and all(v.ok for v in evidence.final),
    }


def _policies(settled: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """What each way of settling a doubt touched, by message kind: the provider's word (its
    search found the send, or proved it absent), at most once (held for a person), at least
    once (sent again)."""
    provider: dict[str, int] = {}
    for outcome in ("echoed", "found", "absent"):
        for kind, count in settled.get(outcome, {}).items():
            provider[kind] = provider.get(kind, 0) + count
    return {
        "settled_by_the_provider": provider,
        "at_most_once_held": dict(settled.get("held", {})),
        "at_least_once_resent": dict(settled.get("resent", {})),
    }


def _mark(ok: bool) -> str:
    return "[green]✓[/green]" if ok else "[red]✗[/red]"


def render(summary: dict, console: Console) -> None:
    if not console.is_terminal:  # a file or a pipe: wide enough that a row is one line
        console = Console(width=200)
    options = summary["options"]
    table = Table(
        title=(
            f"disparo chaos: {options['doctors_per_fault']} doctors per fault, "
            f"{options['senders']} Evolution + {options['cloud_senders']} Cloud numbers × "
            f"{options['rate_per_second']}/s"
            + (", three-node NATS cluster" if options["cluster"] else "")
            + ", "
            f"{summary['seconds']:.0f}s"
        )
    )
    for column in (
        "fault",
        "what was done",
        "back in",
        "settled in",
        "sent",
        "twice",
        "held",
        "checks",
    ):
        table.add_column(column, overflow="fold")
    for row in summary["rounds"]:
        if row["skipped"]:
            table.add_row(
                row["fault"], row["action"], "", "", "", "", "", f"skipped: {row['skipped']}"
            )
            continue
        delta = row["this_round"] or {}
        failed = [f"{name}: {c['figure']}" for name, c in row["checks"].items() if not c["ok"]]
        checks = (
            "[green]all hold[/green]"
            if row["passed"]
            else "[red]" + "; ".join(failed + row["notes"]) + "[/red]"
        )
        table.add_row(
            row["fault"],
            row["action"],
            _fmt_seconds(row["back_seconds"]),
            _fmt_seconds(row["converged_seconds"])
            if row["converged_seconds"] is not None
            else "[red]never[/red]",
            str(delta.get("sent", "")),
            str(delta.get("sent_twice", "")),
            str(delta.get("held_in_doubt", "")),
            checks,
        )
    console.print(table)
    verdicts = Table("invariant (whole run)", "holds", "figure", title="what was checked")
    for name, verdict in summary["final"].items():
        verdicts.add_row(name, _mark(verdict["ok"]), verdict["figure"])
    console.print(verdicts)
    doubt = summary["in_doubt"]

    def kinds(counts: dict[str, int]) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"

    policies = doubt["policies"]
    console.print(
        "in doubt, by what settled it: the provider's word (echo or Evolution findMessages, "
        f"{doubt['provider_lookups']} lookups): {kinds(policies['settled_by_the_provider'])}; "
        f"at most once, held for a person: {kinds(policies['at_most_once_held'])} "
        f"(checked unsent and requeued: {doubt['requeued_by_a_person']} in "
        f"{doubt['requeue_calls']} call(s); still "
        f"held: {kinds(doubt['still_held_for_a_person_by_kind'])}); at least once, sent again: "
        f"{kinds(policies['at_least_once_resent'])}"
    )
    console.print(f"logs: {summary['log_dir']}")
    console.print("[green]PASSED[/green]" if summary["passed"] else "[red]FAILED[/red]")


def _fmt_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"
