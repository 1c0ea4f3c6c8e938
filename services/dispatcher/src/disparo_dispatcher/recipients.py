"""This replica's memory of each phone it sends to, which the database may not show yet.

Pair spacing is measured from the previous send's answer. A send answered a moment ago may not
be flushed yet, and a message to the same phone may still wait in a sender's buffer or be in
flight: admission must count both, or two messages to one phone could go out back to back.
"""

from datetime import datetime


class Recipients:
    """Per phone: when this replica's last send to it was answered, and its messages held here."""

    def __init__(self) -> None:
        self._answered_at: dict[str, datetime] = {}
        # Claimed here, not yet answered or handed back; a plain dict, read a few times a send
        # (a Counter's missing key and deletion are Python-level calls).
        self._claimed: dict[str, int] = {}

    def last_send(self, phone: str, now: datetime) -> datetime | None:
        """A message to this phone still waiting or in flight here counts as sent just now:
        the next one waits a full spacing after that one's answer."""
        return now if phone in self._claimed else self._answered_at.get(phone)

    def claimed(self, phone: str) -> None:
        self._claimed[phone] = self._claimed.get(phone, 0) + 1

    def released(self, phone: str) -> None:
        """A claimed message to ``phone`` was handed back without a send."""
        left = self._claimed.get(phone, 0) - 1
        if left > 0:
            self._claimed[phone] = left
        else:
            self._claimed.pop(phone, None)

    def answered(self, phone: str, at: datetime) -> None:
        # Moved to the end, so the answers stay in the order they came (see ``forget_before``).
        self._answered_at.pop(phone, None)
        self._answered_at[phone] = at
        self.released(phone)

    def forget_before(self, horizon: datetime) -> None:
        """Drop answers older than ``horizon``: they no longer hold any pair back.

        Only the oldest are read, up to the first one to keep: rebuilding the whole map every
        lease tick read every phone answered in the last minute (~60,000 at 1,000 sends a
        second) to drop the ~2,000 of the last two seconds. An answer recorded out of clock
        order is kept until those before it go: remembered longer, never forgotten too soon.
        """
        answered_at = self._answered_at
        stale = []
        for phone, at in answered_at.items():
            if at > horizon:
                break
            stale.append(phone)
        for phone in stale:
            del answered_at[phone]
