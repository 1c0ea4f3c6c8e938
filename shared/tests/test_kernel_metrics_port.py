"""Metrics on a port of their own: the registry answers there, apart from the service's port."""

import socket

import httpx
from prometheus_client import Counter

from disparo_shared.runtime import serve_metrics_apart
from disparo_shared.settings import HttpSettings

PROBE = Counter("disparo_metrics_port_probe", "Counted once by the metrics-port test.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_metrics_are_served_on_their_own_port() -> None:
    port = free_port()
    PROBE.inc()
    serve_metrics_apart(HttpSettings(host="127.0.0.1", metrics_port=port))
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0)
    assert answer.status_code == 200
    assert "disparo_metrics_port_probe_total 1.0" in answer.text
