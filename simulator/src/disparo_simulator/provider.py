"""The simulated provider: decides each send's fate, records it, and sets its webhooks going.

Order of decisions for one request, all taken the instant it is decided: at once, or after the
injected ``accept_delay_ms`` (an overloaded provider's queue, which keeps a request the caller
already gave up on and takes it later, as a real server does with a request it has read):

1. the WhatsApp limits (throughput, pair spacing), so a caller that breaks them is caught
   even when a fault would have hidden it;
2. injected faults (locked account, spam limit, permanent, opted-out, needs-template, timeout,
   5xx); with ``async_failures``, Cloud's permanent, opted-out and needs-template are instead
   answered 200 with a wamid (using throughput like any accepted call) and reported later by a
   ``failed`` status webhook;
3. otherwise the send is accepted: recorded, counted, and given a provider message id.

The send's webhooks are set going at that instant too (the ``sent`` status or ``send.message``
echo first). Only then does the request wait: the injected latency, or ``timeout_seconds`` for a
timeout. A send accepted and then delayed past the caller's timeout is therefore accepted although
the caller saw no answer, which is exactly the ambiguity a retry has to survive without a
duplicate, and the webhooks are the caller's way to learn it went out.
"""

import asyncio
import time
from typing import Any, NamedTuple

from disparo_simulator.faults import FaultConfig, FaultInjector
from disparo_simulator.ids import IdFactory
from disparo_simulator.lifecycle import MessageLifecycle, WallClock
from disparo_simulator.limits import Clock, SendLimits
from disparo_simulator.outcomes import Dialect, SendRequest, SendResult, Verdict
from disparo_simulator.randomness import RandomStreams
from disparo_simulator.settings import SimulatorConfig, SimulatorSettings
from disparo_simulator.state import AcceptedSend, SendLog
from disparo_simulator.stats import Stats
from disparo_simulator.templates import TemplateRegistry, check_and_render
from disparo_simulator.webhooks import WebhookPoster


class _Decision(NamedTuple):
    """The answer for one request; ``send`` is set when it was taken (webhooks will follow),
    ``failure`` when it was taken only to fail later by webhook (``async_failures``)."""

    result: SendResult
    send: AcceptedSend | None = None
    failure: Verdict | None = None


class SimulatedProvider:
    """All simulator state behind both dialects and the control API."""

    def __init__(
        self,
        settings: SimulatorSettings,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = time.time,
    ) -> None:
        self.settings = settings
        self.config = settings.simulator_config()
        self._clock = clock
        self._wall_clock = wall_clock
        self.random = RandomStreams(self.config.seed)
        self.ids = IdFactory(self.random.ids)
        self.limits = SendLimits(self.config.rate_per_second, self.config.pair_spacing_seconds)
        self.faults = FaultInjector(settings.fault_config(), self.random.faults)
        self.log = SendLog()
        self.stats = Stats()
        self.poster = WebhookPoster(lambda: self.config)
        self.lifecycle = MessageLifecycle(
            self.poster, lambda: self.config, self.random.recipients, self.ids, wall_clock
        )
        self.windows = self.lifecycle.windows
        self.templates = TemplateRegistry()
        for template in settings.cloud_templates:
            self.templates.register(template, self.config.cloud_waba_id)

    async def submit(self, request: SendRequest) -> SendResult:
        """Decide ``request``'s fate, start its webhooks, then wait as the faults say."""
        queued = self.faults.accept_delay_seconds()
        if queued:
            await asyncio.sleep(queued)
        result, send, failure = self._decide(request)
        if send is not None:
            self.lifecycle.follow(send, request.callback_data, failure)
        if result.verdict is Verdict.TIMEOUT:
            await asyncio.sleep(self.faults.config.timeout_seconds)
            return result
        latency = self.faults.latency_seconds()
        if latency:
            await asyncio.sleep(latency)
        return result

    def _decide(self, request: SendRequest) -> _Decision:
        now = self._clock()
        check = self.limits.check(request.sender, request.recipient, now)
        if check.verdict is not Verdict.ACCEPTED:
            self.stats.count_refused(request.sender, check.verdict)
            return _Decision(
                SendResult(check.verdict, retry_after_seconds=check.retry_after_seconds)
            )
        body = self._cloud_body(request)
        if isinstance(body, Verdict):
            self.stats.count_refused(request.sender, body)
            return _Decision(SendResult(body))
        fault = self.faults.decide(request)
        if fault is not None and not self.faults.is_deferred(request, fault):
            self.stats.count_refused(request.sender, fault)
            return _Decision(SendResult(fault))
        in_window = self.limits.record(request.sender, request.recipient, now)
        accepted_at = self._wall_clock()
        provider_message_id = (
            self.ids.cloud_message_id(request.recipient)
            if request.dialect is Dialect.CLOUD
            else self.ids.evolution_message_id()
        )
        send = AcceptedSend(
            sender=request.sender,
            recipient=request.recipient,
            body=body,
            message_id=request.message_id,
            provider_message_id=provider_message_id,
            dialect=request.dialect,
            accepted_at=accepted_at,
            delay_ms=request.delay_ms,
            template=(
                None
                if request.template is None
                else f"{request.template.name}/{request.template.language}"
            ),
        )
        result = SendResult(Verdict.ACCEPTED, provider_message_id, accepted_at)
        if fault is not None:
            # Taken, but it never reaches the phone: not in the send log, counted as its fault.
            self.stats.count_deferred_failure(request.sender, in_window, fault)
            return _Decision(result, send, fault)
        duplicate = self.log.append(send)
        self.stats.count_accepted(request.sender, in_window, duplicate)
        return _Decision(result, send)

    def wall_clock(self) -> float:
        return self._wall_clock()

    def waba_of(self, phone_number_id: str) -> str:
        """The account a Cloud phone number id belongs to."""
        return self.config.cloud_number_wabas.get(phone_number_id, self.config.cloud_waba_id)

    def _cloud_body(self, request: SendRequest) -> str | Verdict:
        """What the doctor would read, or why Meta refuses it: a template is checked and filled
        (``templates``), free text needs the pair's 24 h window open (131047 otherwise)."""
        if request.dialect is not Dialect.CLOUD:
            return request.body
        if request.template is not None:
            template = self.templates.find(
                self.waba_of(request.sender), request.template.name, request.template.language
            )
            return check_and_render(template, request.template)
        config = self.config
        if config.cloud_require_window and not self.windows.is_open(
            request.sender, request.recipient, self._wall_clock(), config.cloud_window_hours
        ):
            return Verdict.TEMPLATE_REQUIRED
        return request.body

    def configure(self, changes: dict[str, Any]) -> SimulatorConfig:
        """Apply ``changes`` to the runtime config; fields not named keep their value.

        Raises ``pydantic.ValidationError`` naming the bad field; nothing changes then.
        """
        config = SimulatorConfig.model_validate({**self.config.model_dump(), **changes})
        if config.seed != self.config.seed:
            self.random.reseed(config.seed)
        self.config = config
        self.limits.rate_per_second = config.rate_per_second
        self.limits.pair_spacing_seconds = config.pair_spacing_seconds
        return config

    def change_faults(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply ``changes`` to the fault config; fields not named keep their value."""
        faults = FaultConfig.model_validate({**self.faults.config.model_dump(), **changes})
        self.faults.config = faults
        return faults

    def clear_faults(self) -> FaultConfig:
        """Turn every fault off (the settings' faults come back on reset)."""
        self.faults.config = FaultConfig()
        return self.faults.config

    def reset(self) -> None:
        """Forget every send and count, cancel pending webhooks, restore the settings' faults.

        The runtime config set through ``configure`` is kept; the random streams restart from
        its seed, so a seeded run after a reset replays the first one.
        """
        self.lifecycle.cancel_all()
        self.log.clear()
        self.stats = Stats()
        self.limits.reset()
        self.windows.clear()
        self.faults.reset(self.settings.fault_config())
        self.poster.reset()
        self.random.reseed(self.config.seed)

    def stats_json(self) -> dict[str, object]:
        return {
            **self.stats.as_json(),
            "webhooks_posted": self.poster.posted,
            "webhook_failures": self.poster.failures,
            "sent_statuses_posted": self.poster.sent_statuses_posted,
            "echoes_posted": self.poster.echoes_posted,
            "async_failures_posted": self.poster.async_failures_posted,
            "webhooks_pending": self.lifecycle.pending,
            "webhook_backlog": self.poster.backlog,
        }
