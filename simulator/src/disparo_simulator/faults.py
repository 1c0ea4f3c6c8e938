"""Failures injected on demand, so callers can be tested against a provider that misbehaves.

Random faults (5xx, timeouts, permanent errors) are drawn per request from a seedable generator.
A permanent failure is sticky per message id: once message ``m-1`` has been refused as
undeliverable, every retry of ``m-1`` is refused the same way, so a benchmark can check that every
permanently failed message ended dead and none was retried into success.

With ``async_failures``, Cloud's undeliverable, re-engagement and opted-out refusals are not
answered on the send: the provider takes the send (200, a wamid) and a ``failed`` status webhook
reports the refusal afterwards, which is how Meta mostly reports them.
"""

import random
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from disparo_simulator.outcomes import Dialect, SendRequest, Verdict

Probability = Annotated[float, Field(ge=0.0, le=1.0)]

DEFERRABLE = frozenset({Verdict.PERMANENT, Verdict.OPTED_OUT, Verdict.TEMPLATE_REQUIRED})
"""Refusals Meta mostly reports in a ``failed`` status webhook after answering the send 200."""


class FaultConfig(BaseModel):
    """Which faults to inject; every field defaults to "off"."""

    model_config = ConfigDict(extra="forbid")

    error_5xx_rate: Probability = Field(0.0, description="Share of sends answered with a 5xx.")
    timeout_rate: Probability = Field(
        0.0, description="Share of sends held for timeout_seconds and then not accepted."
    )
    permanent_rate: Probability = Field(
        0.0,
        description="Share of message ids refused for good (Cloud 131026, Evolution exists:false).",
    )
    latency_ms: tuple[int, int] = Field(
        (0, 0), description="Extra latency before every send response, uniform in [min, max] ms."
    )
    accept_delay_ms: tuple[int, int] = Field(
        (0, 0),
        description=(
            "Wait before a send is decided, uniform in [min, max] ms: an overloaded provider's "
            "queue. A caller that gives up meanwhile still has its send taken afterwards."
        ),
    )
    timeout_seconds: float = Field(
        30.0,
        ge=0.0,
        description="How long a 'timeout' holds the request; exceed your client timeout.",
    )
    permanent_numbers: frozenset[str] = Field(
        frozenset(), description="Recipients that are not on WhatsApp (always a permanent error)."
    )
    template_required_numbers: frozenset[str] = Field(
        frozenset(), description="Recipients outside the 24 h window: Cloud text sends get 131047."
    )
    spam_senders: frozenset[str] = Field(
        frozenset(),
        description="Cloud phone number ids under a spam limit: every send gets 131048.",
    )
    opted_out_numbers: frozenset[str] = Field(
        frozenset(), description="Recipients who stopped marketing messages: Cloud 131050."
    )
    marketing_limited_numbers: frozenset[str] = Field(
        frozenset(),
        description="Recipients at Meta's per-user marketing cap: Cloud template sends get 131049.",
    )
    locked_senders: frozenset[str] = Field(
        frozenset(),
        description=(
            "Sending numbers whose account is locked: Cloud 131031, Evolution 404 (instance gone)."
        ),
    )
    async_failures: bool = Field(
        False,
        description=(
            "Cloud: undeliverable, re-engagement and opted-out sends answer 200 with a wamid and "
            "fail later through a `failed` status webhook, as Meta mostly reports them."
        ),
    )

    @field_validator("latency_ms", "accept_delay_ms")
    @classmethod
    def _range_is_ordered(cls, range_ms: tuple[int, int]) -> tuple[int, int]:
        low, high = range_ms
        if low < 0 or high < low:
            raise ValueError("must be [min, max] with 0 <= min <= max")
        return range_ms


class FaultInjector:
    """Decides, for one send request, whether a fault replaces the normal answer.

    Checks run from the most specific to the most random: the sender's locked account and spam
    limit, the recipient's permanent / opted-out / needs-template status, then the random
    permanent, timeout and 5xx draws. Cloud-only conditions (spam limit, 24 h window) do not apply
    to Evolution, which has no such codes; an opted-out recipient on Evolution is answered like a
    permanent failure, and a locked sender as an instance that no longer exists.
    """

    def __init__(self, config: FaultConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self._permanent_message_ids: set[str] = set()

    @property
    def permanent_message_ids(self) -> frozenset[str]:
        """Message ids that were refused for good; their retries are refused too."""
        return frozenset(self._permanent_message_ids)

    def reset(self, config: FaultConfig) -> None:
        """Restore ``config`` and forget which message ids failed for good."""
        self.config = config
        self._permanent_message_ids.clear()

    def decide(self, request: SendRequest) -> Verdict | None:
        """Return the fault verdict for this request, or None to let it through."""
        config = self.config
        is_cloud = request.dialect is Dialect.CLOUD
        if request.sender in config.locked_senders:
            return Verdict.SENDER_LOCKED
        if is_cloud and request.sender in config.spam_senders:
            return Verdict.SPAM_LIMITED
        if request.recipient in config.permanent_numbers or (
            request.message_id is not None and request.message_id in self._permanent_message_ids
        ):
            return Verdict.PERMANENT
        if request.recipient in config.opted_out_numbers:
            return Verdict.OPTED_OUT
        if (
            is_cloud
            and not request.is_template
            and request.recipient in config.template_required_numbers
        ):
            return Verdict.TEMPLATE_REQUIRED
        if (
            is_cloud
            and request.is_template
            and request.recipient in config.marketing_limited_numbers
        ):
            return Verdict.MARKETING_LIMITED
        if config.permanent_rate and self._rng.random() < config.permanent_rate:
            if request.message_id is not None:
                self._permanent_message_ids.add(request.message_id)
            return Verdict.PERMANENT
        if config.timeout_rate and self._rng.random() < config.timeout_rate:
            return Verdict.TIMEOUT
        if config.error_5xx_rate and self._rng.random() < config.error_5xx_rate:
            return Verdict.SERVER_ERROR
        return None

    def is_deferred(self, request: SendRequest, verdict: Verdict) -> bool:
        """Whether ``verdict`` is answered 200 now and reported later by a ``failed`` status.

        Only with ``async_failures`` on, only for Cloud (Evolution has no failed status), and only
        for the failures Meta finds after taking the message: undeliverable, re-engagement and
        marketing opt-out.
        """
        return (
            self.config.async_failures
            and request.dialect is Dialect.CLOUD
            and verdict in DEFERRABLE
        )

    def latency_seconds(self) -> float:
        """Extra time to wait before answering, drawn uniformly from ``latency_ms``."""
        return self._draw_seconds(self.config.latency_ms)

    def accept_delay_seconds(self) -> float:
        """Time a send waits before it is decided, drawn uniformly from ``accept_delay_ms``."""
        return self._draw_seconds(self.config.accept_delay_ms)

    def _draw_seconds(self, range_ms: tuple[int, int]) -> float:
        low, high = range_ms
        if high == 0:
            return 0.0
        return self._rng.uniform(low, high) / 1000.0
