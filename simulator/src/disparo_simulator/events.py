"""What the simulator tells the caller through webhooks, before any dialect shapes it.

``then`` is what happens once the event has been posted (or failed to be): the next step of the
message's lifecycle is scheduled from there, so ``read`` is never posted before ``delivered``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from disparo_simulator.outcomes import Dialect, Verdict


@dataclass(slots=True)
class StatusEvent:
    """Our message ``provider_message_id`` reached a new status: ``sent``, ``delivered``,
    ``read`` or ``failed``; a failed one names the refusal in ``failure`` (e.g. PERMANENT)."""

    dialect: Dialect
    sender: str
    recipient: str
    provider_message_id: str
    status: str
    at: float
    callback_data: str | None = None
    failure: Verdict | None = None
    then: Callable[[], None] | None = None


@dataclass(slots=True)
class EchoEvent:
    """Evolution telling the caller it sent ``body`` through the API (``send.message``).

    Evolution echoes every message sent through it, so a caller that lost the send's answer
    can still learn the message went out, and under which key id.
    """

    dialect: Dialect
    sender: str
    recipient: str
    provider_message_id: str
    body: str
    at: float
    then: Callable[[], None] | None = None


@dataclass(slots=True)
class InboundEvent:
    """Doctor ``from_number`` wrote ``text`` to our number ``sender``."""

    dialect: Dialect
    sender: str
    from_number: str
    profile_name: str
    text: str
    provider_message_id: str
    at: float
    then: Callable[[], None] | None = None


WebhookEvent = StatusEvent | EchoEvent | InboundEvent
