"""The one interface every WhatsApp provider adapter implements, and what a send can come to."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID


class FailureClass(StrEnum):
    """What the queue should do about a rejected send."""

    TRANSIENT = "transient"  # timeouts, 5xx, 130429, 80007, 4, 2: back off and retry
    PAIR_RATE_LIMITED = "pair_rate_limited"  # 131056: wait for this recipient, costs no attempt
    PAUSE_SENDER = "pause_sender"  # 131048 spam, account locked: stop using the number
    PERMANENT = "permanent"  # 131026, Evolution exists:false: dead at once
    OPTED_OUT = "opted_out"  # 131050: dead, and the contact is opted out
    NEEDS_TEMPLATE = "needs_template"  # 131047: outside the 24 h window, text will never pass
    MARKETING_LIMITED = "marketing_limited"  # 131049: Meta's per-user marketing cap, a day later
    TEMPLATE_STOPPED = "template_stopped"  # 132015/132016: the template is paused or disabled


@dataclass(frozen=True)
class SenderAccount:
    """A WhatsApp number as a provider knows it."""

    sender_id: str  # our name for the number, e.g. "recife-01"
    provider: str  # "evolution" | "cloud"
    address: str  # Evolution instance name or Cloud API phone-number id
    base_url: str  # provider API root, e.g. http://127.0.0.1:8025 or https://graph…/v21.0
    credential: str  # the apikey / access token, resolved from its reference


@dataclass(frozen=True)
class OutgoingText:
    message_id: UUID
    to: str  # E.164
    body: str
    typing_ms: int = 0  # typing indicator shown before the text (Evolution's ``delay``)
    # Cloud only: send this template (``MessageTemplate`` as a dict) instead of the text.
    template: dict | None = None


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str


@dataclass(frozen=True)
class Rejected:
    failure: FailureClass
    code: str  # provider code as text: "130429", "http_503", "timeout", "exists_false"
    detail: str
    retry_after_seconds: float | None = None


SendResult = Accepted | Rejected


class Provider(Protocol):
    """Sends one text through one account. Never raises for provider or network errors: every
    outcome is an ``Accepted`` or a classified ``Rejected``."""

    name: str

    async def send_text(self, account: SenderAccount, message: OutgoingText) -> SendResult: ...
