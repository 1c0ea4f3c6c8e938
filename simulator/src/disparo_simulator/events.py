"""What the simulator tells the caller through webhooks, before any dialect shapes it.

``then`` is what happens once the event has been posted (or failed to be): the next step of the
message's lifecycle is scheduled from there, so ``read`` is never posted before ``delivered``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from disparo_simulator.outcomes import Dialect


@dataclass(slots=True)
class StatusEvent:
    """Our message ``provider_message_id`` reached a new status: ``delivered`` or ``read``."""

    dialect: Dialect
    sender: str
    recipient: str
    provider_message_id: str
    status: str
    at: float
    callback_data: str | None = None
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


WebhookEvent = StatusEvent | InboundEvent
