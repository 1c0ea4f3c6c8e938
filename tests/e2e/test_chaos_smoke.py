"""``disparo chaos`` at toy size: the command starts the whole stack, injects its faults, and
exits 0 with a report that names what it checked (the figures themselves are the command's;
speed is not checked).

Two runs: reporting and a dispatcher replica killed mid-run, on the test servers; and the
three-node JetStream cluster the run starts itself (R3 streams, every service given the three
URLs), losing a node, then another, then the MESSAGES stream's leader.

Time: the command calls a round stuck when nothing has moved for ``--stall-timeout`` seconds,
never for being slow; the run's wall time grows with the machine's load (37 s alone, 242 s at
load average 13 on the shared 2-core machine for the first run), so the only clock here is a
guard against a hang, far above any run that makes progress.
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

CHECKS = {
    "sent once",
    "one per doctor",
    "nothing lost",
    "limits held",
    "reports converged",
    "nothing stuck",
}
HANG_GUARD_SECONDS = 1500


def _chaos(env: dict[str, str], *arguments: str) -> tuple[dict, subprocess.CompletedProcess]:
    result = subprocess.run(
        [sys.executable, "-m", "disparo.cli", "chaos", *arguments, "--json"],
        env={**os.environ, **env},
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS - 60,
    )
    assert result.stdout, _why_it_died(result.stderr)
    return json.loads(result.stdout), result


def _why_it_died(stderr: str) -> str:
    """The command's tracebacks: the start of the first (a chained one starts at its first)
    and the end of the last, which names the exception that ended the run; else its last lines."""
    start = stderr.find("Traceback")
    if start < 0:
        return stderr[-3000:]
    tracebacks = stderr[start:]
    if len(tracebacks) <= 12000:
        return tracebacks
    return tracebacks[:6000] + "\n[…]\n" + tracebacks[-6000:]


def _every_round_held(summary: dict, result: subprocess.CompletedProcess, sent: int) -> None:
    for round_ in summary["rounds"]:
        failed = {name: c for name, c in round_["checks"].items() if not c["ok"]}
        # The failed checks first: pytest cuts a long message, and they are what matters.
        why = (round_["action"], failed, round_["notes"], round_["checks"], result.stderr[-2000:])
        assert round_["converged_seconds"] is not None, why
        assert set(round_["checks"]) == CHECKS, why
        assert not failed, why
        assert round_["this_round"]["sent"] >= sent  # the campaign and the recruiter's replies
    assert set(summary["final"]) == CHECKS
    failed_finally = {name: c for name, c in summary["final"].items() if not c["ok"]}
    assert not failed_finally, (failed_finally, result.stderr[-2000:])
    assert summary["totals"]["sent_twice"] == 0 and summary["totals"]["lost"] == 0
    assert summary["passed"] is True
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.timeout(HANG_GUARD_SECONDS)
def test_chaos_kills_reporting_and_a_dispatcher_and_every_invariant_holds(test_servers):
    summary, result = _chaos(
        {"DATABASE_URL": test_servers.database_url, "NATS_URL": test_servers.nats_url},
        "--faults",
        "reporting,dispatcher",
        "--doctors",
        "20",
        "--rate",
        "5",
    )
    assert [r["fault"] for r in summary["rounds"]] == ["reporting", "dispatcher"]
    _every_round_held(summary, result, sent=20)


@pytest.mark.timeout(HANG_GUARD_SECONDS)
def test_chaos_on_a_three_node_cluster_loses_nodes_and_the_leader_and_every_invariant_holds(
    test_servers,
):
    summary, result = _chaos(
        {"DATABASE_URL": test_servers.database_url},
        "--cluster",
        "--doctors",
        "10",
        "--rate",
        "5",
    )
    assert [r["fault"] for r in summary["rounds"]] == ["nats-node", "nats-leader"]
    assert "n1" in summary["rounds"][0]["action"] and "n2" in summary["rounds"][0]["action"]
    _every_round_held(summary, result, sent=10)
