"""``disparo bench campaigns`` at toy size: the command runs the real processes end to end,
finishes, and the dispatcher's queue holds one message per recipient (speed is not checked)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

CONTACTS = 2000


def test_bench_campaigns_persists_one_message_per_recipient(test_servers):
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
            "campaigns",
            "--contacts",
            str(CONTACTS),
            "--previews",
            "5",
            "--timeout",
            "100",
            "--json",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.stdout, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["import"]["rows"] == CONTACTS
    assert summary["import"]["invalid"] == 0
    assert summary["campaign"]["audience"] == CONTACTS
    assert summary["campaign"]["persisted"] == CONTACTS
    assert summary["checks"]["nothing_sent"], summary["campaign"]["queue_states"]
    assert summary["preview"]["requests"] == 5
    assert result.returncode == 0, result.stderr[-3000:]
