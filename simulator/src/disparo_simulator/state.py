"""The in-memory record of every accepted send, kept compact for runs of 100,000+ sends."""

from collections.abc import Iterator
from dataclasses import dataclass

from disparo_simulator.outcomes import Dialect


@dataclass(frozen=True, slots=True)
class AcceptedSend:
    """One send the simulator accepted; ``accepted_at`` is wall-clock unix seconds."""

    sender: str
    recipient: str
    body: str
    message_id: str | None
    provider_message_id: str
    dialect: Dialect
    accepted_at: float
    delay_ms: int | None
    template: str | None = None  # "name/language" of a template send; ``body`` is it filled

    def as_json(self) -> dict[str, object]:
        return {
            "sender": self.sender,
            "recipient": self.recipient,
            "body": self.body,
            "message_id": self.message_id,
            "provider_message_id": self.provider_message_id,
            "dialect": self.dialect.value,
            "accepted_at": self.accepted_at,
            "delay_ms": self.delay_ms,
            "template": self.template,
        }


class SendLog:
    """Accepted sends in acceptance order, and which caller message ids were already accepted."""

    def __init__(self) -> None:
        self._sends: list[AcceptedSend] = []
        self._accepted_message_ids: set[str] = set()
        self._by_chat: dict[tuple[str, str], list[AcceptedSend]] = {}

    def __len__(self) -> int:
        return len(self._sends)

    def clear(self) -> None:
        self._sends.clear()
        self._accepted_message_ids.clear()
        self._by_chat.clear()

    def append(self, send: AcceptedSend) -> bool:
        """Record ``send``; return True when its message id had been accepted before."""
        self._sends.append(send)
        self._by_chat.setdefault((send.sender, send.recipient), []).append(send)
        if send.message_id is None:
            return False
        if send.message_id in self._accepted_message_ids:
            return True
        self._accepted_message_ids.add(send.message_id)
        return False

    def find(
        self,
        sender: str | None = None,
        recipient: str | None = None,
        message_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        count: int | None = None,
    ) -> list[AcceptedSend]:
        """The matching sends, oldest first: from the ``offset``-th, at most ``count`` of them
        (a page), and with ``limit`` only the newest ``limit`` of those."""
        matches = (
            self._sends
            if sender is None and recipient is None and message_id is None
            else [
                send
                for send in self._sends
                if (sender is None or send.sender == sender)
                and (recipient is None or send.recipient == recipient)
                and (message_id is None or send.message_id == message_id)
            ]
        )
        matches = matches[offset : None if count is None else offset + count]
        if limit is not None:
            matches = matches[-limit:] if limit > 0 else []
        return matches

    def chat(self, sender: str, recipient: str) -> list[AcceptedSend]:
        """What ``sender`` sent to ``recipient``, oldest first (a chat's history, by index)."""
        return list(self._by_chat.get((sender, recipient), ()))

    def __iter__(self) -> Iterator[AcceptedSend]:
        return iter(self._sends)
