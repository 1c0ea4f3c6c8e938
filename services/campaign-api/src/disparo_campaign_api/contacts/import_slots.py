"""How many bulk imports one process runs at once; the next is turned away, not queued.

An import writes through ``import_writers`` pooled connections and keeps a core busy parsing, so
a third import at once would starve the API's other requests of connections and CPU, and a queue
of waiting uploads would hold their bodies open. Past the cap the answer is 429 with
``Retry-After``: the client sends the file again later (with its ``Idempotency-Key``, a retry of
a finished import answers the stored result).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from disparo_shared.problems import Problem

RETRY_AFTER_SECONDS = 30


class ImportSlots:
    """A per-process count of imports running (one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.running = 0

    @contextmanager
    def take(self, limit: int) -> Iterator[None]:
        """Hold a slot for the import's duration; 429 when all ``limit`` are taken."""
        if self.running >= limit:
            raise Problem(
                429,
                "Too many imports",
                f"at most {limit} imports run at once; retry in {RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1


IMPORTS = ImportSlots()
