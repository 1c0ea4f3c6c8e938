"""``python -m disparo_simulator`` starts a real server that honours SIM_* settings."""

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_module_entry_point_serves_on_sim_port_with_env_settings():
    port = free_port()
    env = {**os.environ, "SIM_PORT": str(port), "SIM_RATE_PER_SECOND": "7"}
    process = subprocess.Popen(
        [sys.executable, "-m", "disparo_simulator"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # A bound on a hang, not a speed check: starting Python and the app took over 10 s on
        # the shared 2-core machine under the full suite; a dead process ends the wait at once.
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        config = httpx.get(f"http://127.0.0.1:{port}/_sim/config").json()
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert health.json() == {"status": "ok"}
    assert config["rate_per_second"] == 7
