"""CPU seconds spent by each part of the system during a run, from the kernel's own accounting.

A process's CPU is its user + system time, plus that of its live descendants, plus what the
kernel credited it for children it has reaped (Postgres backends that closed, for example).
Each watched process is read when measurement starts (or counts from zero if it starts later,
like a restarted replica) and when it ends — just before a ``kill -9``, whose victim's time would
otherwise vanish with it.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import psutil


def process_tree_cpu_seconds(pid: int, tree: bool = True) -> float | None:
    """CPU seconds of ``pid`` and its descendants, living and reaped; None if it is gone.

    ``tree=False`` counts the process alone (the benchmark itself, whose children are the
    services being measured).
    """
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        if not tree:
            return times.user + times.system
        total = times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            try:
                child_times = child.cpu_times()
            except psutil.Error:
                continue  # exited between listing and reading: its time went to its parent
            total += child_times.user + child_times.system
        return total
    except psutil.Error:
        return None


def listening_pid(port: int) -> int | None:
    """The local process listening on TCP ``port`` (for servers we did not start), if visible."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for connection in connections:
        if (
            connection.status == psutil.CONN_LISTEN
            and connection.laddr
            and connection.laddr.port == port
            and connection.pid
        ):
            return connection.pid
    return None


@dataclass
class CpuMeter:
    """Accumulates CPU seconds per group (``"dispatcher"``, ``"postgres"``, …) over a run."""

    _start: dict[int, float] = field(default_factory=dict)
    _group: dict[int, str] = field(default_factory=dict)
    _tree: dict[int, bool] = field(default_factory=dict)
    _done: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def watch(
        self, group: str, pid: int | None, from_zero: bool = False, tree: bool = True
    ) -> None:
        """Count ``pid`` (and its descendants) under ``group`` from now on.

        ``from_zero`` counts everything the process ever used: for processes started during
        the run, whose start-up is part of its cost.
        """
        if pid is None:
            return
        start = 0.0 if from_zero else process_tree_cpu_seconds(pid, tree)
        if start is None:
            return
        self._start[pid] = start
        self._group[pid] = group
        self._tree[pid] = tree

    def retire(self, pid: int | None) -> None:
        """Take ``pid``'s final reading now, before it is killed."""
        if pid is None or pid not in self._start:
            return
        now = process_tree_cpu_seconds(pid, self._tree.pop(pid))
        start = self._start.pop(pid)
        group = self._group.pop(pid)
        if now is not None:
            self._done[group] += now - start

    def finish(self) -> dict[str, float]:
        """Final readings of every process still watched; CPU seconds per group."""
        for pid in list(self._start):
            self.retire(pid)
        return dict(self._done)
