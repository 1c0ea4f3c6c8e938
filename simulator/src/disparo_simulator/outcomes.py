"""The provider-neutral vocabulary of one send: what was asked, and what the simulator answered.

Each dialect translates its own request into a ``SendRequest`` and renders a ``SendResult`` back
in its own error codes, so the rules in between are written once.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from disparo_simulator.templates import TemplateSend


class Dialect(StrEnum):
    """The provider API a request came through."""

    EVOLUTION = "evolution"
    CLOUD = "cloud"


class Verdict(StrEnum):
    """How the simulator answered a send request."""

    ACCEPTED = "accepted"
    THROTTLED = "throttled"  # over the per-number rate: Cloud 130429
    PAIR_LIMITED = "pair_limited"  # same sender to same recipient too soon: Cloud 131056
    SERVER_ERROR = "server_error"  # injected 5xx
    TIMEOUT = "timeout"  # held past the client's patience, never accepted
    PERMANENT = "permanent"  # not on WhatsApp / undeliverable: Cloud 131026
    OPTED_OUT = "opted_out"  # stopped marketing messages: Cloud 131050
    TEMPLATE_REQUIRED = "template_required"  # outside the 24 h window: Cloud 131047
    SPAM_LIMITED = "spam_limited"  # sender under a spam limit: Cloud 131048
    SENDER_LOCKED = "sender_locked"  # sender's account locked: Cloud 131031, Evolution 404
    MARKETING_LIMITED = "marketing_limited"  # Meta's per-user marketing cap: Cloud 131049
    TEMPLATE_PARAM_COUNT = "template_param_count"  # Cloud 132000
    TEMPLATE_MISSING = "template_missing"  # not in that language, or not approved: Cloud 132001
    TEMPLATE_TOO_LONG = "template_too_long"  # filled body over 1,024 characters: Cloud 132005
    TEMPLATE_PARAM_FORMAT = "template_param_format"  # Cloud 132012
    TEMPLATE_PAUSED = "template_paused"  # Cloud 132015
    TEMPLATE_DISABLED = "template_disabled"  # Cloud 132016


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One outbound message as the caller asked for it.

    ``message_id`` is the caller's own id (the ``X-Disparo-Message-Id`` header, else Cloud's
    ``biz_opaque_callback_data``); the simulator uses it to count duplicate sends.
    """

    dialect: Dialect
    sender: str
    recipient: str
    body: str
    message_id: str | None = None
    callback_data: str | None = None
    delay_ms: int | None = None
    is_template: bool = False
    template: "TemplateSend | None" = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The simulator's answer; ``provider_message_id`` is set only when accepted."""

    verdict: Verdict
    provider_message_id: str | None = None
    accepted_at: float | None = None
    retry_after_seconds: int | None = None
