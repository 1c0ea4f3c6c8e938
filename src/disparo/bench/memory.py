"""Peak resident memory of the processes a benchmark watches, sampled every 100 ms in a thread.

RSS is what the kernel says a process holds in RAM now; its peak between two samples can be
missed, so a 100 ms period under-reads short spikes a little, never over-reads. A process is
counted with its live descendants (a service that forks workers is one service). Peaks are kept
per phase (``take_phase`` hands them over and starts the next phase from zero) and for the
whole run.
"""

import threading
from collections import defaultdict

import psutil

SAMPLE_SECONDS = 0.1
MIB = 2**20


def rss_bytes(pid: int, tree: bool = True) -> int | None:
    """RSS of ``pid`` and (with ``tree``) its live descendants, in bytes; None once it is gone."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        if not tree:
            return total
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue  # exited between listing and reading
        return total
    except psutil.Error:
        return None


class PeakRss:
    """Samples every watched process in a daemon thread; use as a context manager."""

    def __init__(self, period_seconds: float = SAMPLE_SECONDS) -> None:
        self.period_seconds = period_seconds
        self._pids: dict[str, tuple[int, bool]] = {}
        self._phase: dict[str, int] = defaultdict(int)
        self._run: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="peak-rss")

    def watch(self, name: str, pid: int | None, tree: bool = True) -> None:
        """Sample ``pid`` under ``name`` from now on; ``tree=False`` counts it alone (the
        benchmark itself, whose children are the services measured on their own)."""
        if pid is None:
            return
        with self._lock:
            self._pids[name] = (pid, tree)
        self._sample_one(name, pid, tree)

    def take_phase(self) -> dict[str, float]:
        """Peak MiB of each process since the previous call (or the start); then reset."""
        self._sample_all()
        with self._lock:
            peaks = {name: round(value / MIB, 1) for name, value in self._phase.items()}
            self._phase.clear()
        return peaks

    def run_peaks(self) -> dict[str, float]:
        """Peak MiB of each process over the whole run so far."""
        with self._lock:
            return {name: round(value / MIB, 1) for name, value in self._run.items()}

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_seconds):
            self._sample_all()

    def _sample_all(self) -> None:
        with self._lock:
            watched = list(self._pids.items())
        for name, (pid, tree) in watched:
            self._sample_one(name, pid, tree)

    def _sample_one(self, name: str, pid: int, tree: bool) -> None:
        rss = rss_bytes(pid, tree)
        if rss is None:
            return
        with self._lock:
            self._phase[name] = max(self._phase[name], rss)
            self._run[name] = max(self._run[name], rss)
