"""Peak resident memory of the processes a benchmark watches, sampled every 100 ms in a thread.

RSS is what the kernel says a process holds in RAM now; its peak between two samples can be
missed, so a 100 ms period under-reads short spikes a little, never over-reads. A process is
counted with its descendants (a service that forks workers is one service), re-listed every 2 s
because listing them walks every process of the machine. Peaks are kept
per phase (``take_phase`` hands them over and starts the next phase from zero) and for the
whole run.
"""

import threading
from collections import defaultdict

import psutil

SAMPLE_SECONDS = 0.1
MIB = 2**20


class _Watched:
    """One watched process: its ``psutil`` handle and, with ``tree``, its children, re-listed
    every ``CHILDREN_EVERY`` samples (listing children scans every process of the machine)."""

    CHILDREN_EVERY = 20  # 2 s at the default period

    def __init__(self, pid: int, tree: bool) -> None:
        self.process = psutil.Process(pid)
        self.tree = tree
        self.children: list[psutil.Process] = []
        self._samples = 0

    def rss_bytes(self) -> int | None:
        """RSS of the process (and its children), in bytes; None once it is gone."""
        try:
            total = self.process.memory_info().rss
            if self.tree and self._samples % self.CHILDREN_EVERY == 0:
                self.children = self.process.children(recursive=True)
        except psutil.Error:
            return None
        self._samples += 1
        for child in self.children:
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue  # exited since it was listed
        return total


class PeakRss:
    """Samples every watched process in a daemon thread; use as a context manager."""

    def __init__(self, period_seconds: float = SAMPLE_SECONDS) -> None:
        self.period_seconds = period_seconds
        self._watched: dict[str, _Watched] = {}
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
        try:
            watched = _Watched(pid, tree)
        except psutil.Error:
            return
        with self._lock:
            self._watched[name] = watched
        self._sample_one(name, watched)

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
            watched = list(self._watched.items())
        for name, process in watched:
            self._sample_one(name, process)

    def _sample_one(self, name: str, process: _Watched) -> None:
        rss = process.rss_bytes()
        if rss is None:
            return
        with self._lock:
            self._phase[name] = max(self._phase[name], rss)
            self._run[name] = max(self._run[name], rss)
