"""The 24-hour customer-service windows of the Cloud API, per (our number, doctor).

A doctor's message to one of our numbers opens (or renews) that pair's window for
``cloud_window_hours``; inside it the number may send free text, outside it only a template
(Meta answers 131047 otherwise). Times are wall-clock unix seconds from the simulator's injected
clock, so a test can move past the 24 h without waiting.
"""


class CustomerWindows:
    """When each doctor last wrote to each of our numbers."""

    def __init__(self) -> None:
        self._last_inbound: dict[tuple[str, str], float] = {}

    def opened(self, sender: str, doctor: str, at: float) -> None:
        self._last_inbound[(sender, doctor)] = max(at, self._last_inbound.get((sender, doctor), at))

    def closed(self, sender: str, doctor: str) -> None:
        self._last_inbound.pop((sender, doctor), None)

    def is_open(self, sender: str, doctor: str, now: float, hours: float) -> bool:
        last = self._last_inbound.get((sender, doctor))
        return last is not None and now - last < hours * 3600

    def as_json(self, now: float, hours: float) -> list[dict[str, object]]:
        return [
            {
                "sender": sender,
                "doctor": doctor,
                "last_inbound_at": at,
                "open": now - at < hours * 3600,
            }
            for (sender, doctor), at in self._last_inbound.items()
        ]

    def clear(self) -> None:
        self._last_inbound.clear()
