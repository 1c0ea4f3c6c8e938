"""``disparo bench dispatch`` at toy size: the command runs the real processes end to end,
finishes, and its figures show no limit broken and nothing sent twice, and reporting beside it
projected every send (speed is not checked)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

# Hang guards only: under load on a shared 2-core box the 300-message run has taken minutes,
# and the checks below are about what was sent, never how fast.
BENCH_DEADLINE_SECONDS = 600
HANG_GUARD_SECONDS = BENCH_DEADLINE_SECONDS + 60


@pytest.mark.timeout(HANG_GUARD_SECONDS + 30)
def test_bench_dispatch_completes_without_violations_or_duplicates(test_servers):
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
            "bench",
            "dispatch",
            "--messages",
            "300",
            "--senders",
            "3",
            "--urgent",
            "5",
            "--timeout",
            str(BENCH_DEADLINE_SECONDS),
            "--reporting",
            "1",
            "--json",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert result.stdout, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["checks"]["completed"], result.stderr[-3000:]
    assert summary["limits"]["violations"] == 0
    assert summary["outcomes"]["simulator_duplicates"] == 0
    # 300 campaign messages, 5 urgent replies after the intake and those published during it
    during_intake = summary["intake"]["urgent_published"]
    assert summary["intake"]["urgent_sent"] == during_intake
    assert summary["outcomes"]["accepted"] == 305 + during_intake
    assert summary["outcomes"]["lost"] == 0
    # the queue over time comes from the dispatcher's own claim counters
    assert summary["timeline"], "no 10 s interval recorded"
    assert sum(row["claims"] for row in summary["timeline"]) > 0
    # reporting ran beside it and projected every send
    assert summary["reporting"]["sends_projected"] == 305 + during_intake
    assert summary["reporting"]["catch_up_seconds"] is not None
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.timeout(HANG_GUARD_SECONDS + 30)
def test_bench_claim_reaches_each_claimed_message_by_key(test_servers):
    """The claim picks its rows through the per-sender index: about two buffers per message
    at either size; a scan of the 40,000-row backlog per sender would cost over 12."""
    env = {
        **os.environ,
        "DATABASE_URL": test_servers.database_url,
        "NATS_URL": test_servers.nats_url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "disparo.cli", "bench", "claim", "--sizes", "4000,40000", "--json"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sizes = json.loads(result.stdout.strip().splitlines()[-1])
    assert [r["size"] for r in sizes] == [4000, 40000]
    for r in sizes:
        assert r["claimed"] == 4000
        assert r["pick_buffers"] / r["claimed"] < 4
