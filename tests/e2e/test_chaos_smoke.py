"""``disparo chaos`` at toy size with two cheap faults: the command starts the whole stack, kills
reporting and a dispatcher replica mid-run, and exits 0 with a report that names what it checked
(the figures themselves are the command's; speed is not checked)."""

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


@pytest.mark.timeout(300)
def test_chaos_kills_reporting_and_a_dispatcher_and_every_invariant_holds(test_servers):
    env = {
        **os.environ,
        "DATABASE_URL": test_servers.database_url,
        "NATS_URL": test_servers.nats_url,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "disparo.cli",
            "chaos",
            "--faults",
            "reporting,dispatcher",
            "--doctors",
            "20",
            "--rate",
            "5",
            "--round-timeout",
            "120",
            "--json",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.stdout, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert [r["fault"] for r in summary["rounds"]] == ["reporting", "dispatcher"]
    for round_ in summary["rounds"]:
        why = (round_["action"], round_["checks"], round_["notes"], result.stderr[-2000:])
        assert round_["converged_seconds"] is not None, why
        assert set(round_["checks"]) == CHECKS, why
        assert all(c["ok"] for c in round_["checks"].values()), why
        assert round_["this_round"]["sent"] >= 20  # the campaign and the recruiter's replies
    assert set(summary["final"]) == CHECKS
    assert summary["totals"]["sent_twice"] == 0 and summary["totals"]["lost"] == 0
    assert summary["passed"] is True
    assert result.returncode == 0, result.stderr[-3000:]
