"""What a provider webhook tells us, in one vocabulary for both providers.

Parsers turn each dialect's payload into ``StatusUpdate``, ``InboundText`` and ``RecordedEcho``
(the provider's word that it sent one of our messages: Cloud's ``sent`` status, Evolution's
``send.message``) values; recording them is provider-neutral. A webhook that tells nothing we
use (``SERVER_ACK``, group chats) parses to an empty ``WebhookBatch`` and is answered 200 all
the same.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from disparo_dispatcher.echo_matching import RecordedEcho


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusUpdate:
    """The provider's news about one of our outgoing messages."""

    provider: str  # "evolution" | "cloud"
    address: str  # Evolution instance or Cloud phone-number id that sent the message
    provider_message_id: str
    status: DeliveryStatus
    at: datetime
    message_id: UUID | None = None  # our id when the provider echoes it (Cloud callback data)
    error_code: str | None = None  # for FAILED: the provider's code, e.g. "131026"
    error: str | None = None


@dataclass(frozen=True)
class InboundText:
    """A message a contact wrote to one of our numbers; non-text kinds carry a placeholder body."""

    provider: str
    address: str  # the number written to: Evolution instance or Cloud phone-number id
    provider_message_id: str
    phone: str  # E.164, normalised
    body: str  # the text, or a placeholder such as "[image]"
    at: datetime


@dataclass(frozen=True)
class TemplateStatusChange:
    """Meta changed a template's status (``message_template_status_update``)."""

    waba_id: str
    name: str
    language: str
    status: str  # APPROVED, PAUSED, DISABLED, REJECTED, …
    template_id: str | None
    category: str | None
    reason: str | None


@dataclass(frozen=True)
class NumberHealth:
    """A number's quality and/or its portfolio's messaging tier changed
    (``phone_number_quality_update``, ``account_update``, ``business_capability_update``)."""

    waba_id: str
    display_phone_number: str | None
    quality: str | None  # GREEN / YELLOW / RED, when the change says
    tier: str | None  # TIER_250 … TIER_UNLIMITED, when the change says


@dataclass(frozen=True)
class WebhookBatch:
    statuses: list[StatusUpdate] = field(default_factory=list)
    inbound: list[InboundText] = field(default_factory=list)
    echoes: list[RecordedEcho] = field(default_factory=list)
    template_changes: list[TemplateStatusChange] = field(default_factory=list)
    health: list[NumberHealth] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.statuses or self.inbound or self.echoes or self.template_changes or self.health
        )
