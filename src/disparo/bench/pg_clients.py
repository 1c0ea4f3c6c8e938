"""Postgres CPU split by client: which service made the database work, read from the kernel.

Each Postgres backend serves one client connection and names the client's address in its
process title (``postgres: user db 127.0.0.1(51234) idle``); the client process holds the other
end of that TCP connection. Matching the two ports tells whose backend it is, so a backend's CPU
seconds can be charged to campaign-api, the dispatcher or the benchmark. Works for a local
Postgres whose processes we can see; what cannot be charged (autovacuum, the WAL writer, the
checkpointer, backends that ended during the phase, other databases' clients) is reported as
``other`` so the parts add up to the server's total.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from disparo.bench.cpu import process_tree_cpu_seconds

_CLIENT_PORT = re.compile(r"\((\d+)\)")
OTHER = "other"


def _client_ports(pid: int) -> set[int]:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.laddr.port for c in connections if c.laddr}


@dataclass(frozen=True)
class PostgresReading:
    """CPU seconds of each visible backend (with the client it serves) and of the whole server."""

    backends: Mapping[int, tuple[str, float]]  # backend pid → (client name, CPU seconds)
    server_total: float | None


def read_postgres(postmaster_pid: int, clients: Mapping[str, int]) -> PostgresReading:
    """One reading: every backend of the server, charged to the client whose port it serves."""
    port_owner = {port: name for name, pid in clients.items() for port in _client_ports(pid)}
    backends: dict[int, tuple[str, float]] = {}
    try:
        children = psutil.Process(postmaster_pid).children()
    except psutil.Error:
        children = []
    for backend in children:
        try:
            title = " ".join(backend.cmdline())
            times = backend.cpu_times()
        except psutil.Error:
            continue
        match = _CLIENT_PORT.search(title)
        owner = port_owner.get(int(match.group(1))) if match else None
        if owner is not None:
            backends[backend.pid] = (owner, times.user + times.system)
    return PostgresReading(backends, process_tree_cpu_seconds(postmaster_pid))


def postgres_cpu_by_client(before: PostgresReading, after: PostgresReading) -> dict[str, float]:
    """CPU seconds each client cost the server between two readings, plus ``other``.

    A backend that started in between counts from zero; one that ended in between is lost to
    its client and lands in ``other`` (the server's total still has it).
    """
    spent: dict[str, float] = {}
    for pid, (owner, seconds) in after.backends.items():
        start = before.backends.get(pid, (owner, 0.0))[1]
        spent[owner] = spent.get(owner, 0.0) + max(0.0, seconds - start)
    if before.server_total is not None and after.server_total is not None:
        total = after.server_total - before.server_total
        spent[OTHER] = max(0.0, total - sum(spent.values()))
    return {name: round(seconds, 1) for name, seconds in spent.items()}
