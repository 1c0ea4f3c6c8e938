"""What happens on the doctor's phone after a send is accepted: delivered, maybe read,
maybe a reply.

For each accepted send whose dialect has a webhook URL: first, at once, the provider's own word
that it sent the message (Cloud's ``sent`` status when ``sent_status``, Evolution's
``send.message`` echo when ``send_echo``); ``delivered`` ``delivered_after_seconds`` later; with
``read_probability``, ``read`` ``read_after_seconds`` after that; with ``reply_probability``, an
inbound reply ``reply_after_seconds`` after the read (a reply implies a read). With the defaults
(0.2 s, 0.5, 1 s, 0.0) half the messages are read 1.2 s after acceptance and nobody replies.

A send taken only to fail later (Cloud with ``async_failures``) gets one ``failed`` status,
``delivered_after_seconds`` after acceptance, and nothing else: Meta finds out at delivery.

Each step is timed from the moment the previous one was posted, so the order always holds even
when the receiver is slow. The draws happen at acceptance, so a seeded run replays the same reads
and replies.
"""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from disparo_simulator.doctors import doctor_name, pick_reply
from disparo_simulator.events import EchoEvent, InboundEvent, StatusEvent, WebhookEvent
from disparo_simulator.ids import IdFactory
from disparo_simulator.outcomes import Dialect, Verdict
from disparo_simulator.settings import SimulatorConfig
from disparo_simulator.state import AcceptedSend
from disparo_simulator.webhooks import WebhookPoster
from disparo_simulator.windows import CustomerWindows

WallClock = Callable[[], float]
"""Returns unix seconds, for webhook timestamps."""

SENT, DELIVERED, READ, FAILED, REPLY = "sent", "delivered", "read", "failed", "reply"


@dataclass(slots=True)
class _Journey:
    """The webhooks still to come for one accepted send: ``steps`` of (delay, step)."""

    send: AcceptedSend
    callback_data: str | None
    steps: list[tuple[float, str]]
    reply_text: str | None
    generation: int
    failure: Verdict | None = None


class MessageLifecycle:
    """Schedules the status and reply webhooks that follow accepted sends."""

    def __init__(
        self,
        poster: WebhookPoster,
        config: Callable[[], SimulatorConfig],
        rng: random.Random,
        ids: IdFactory,
        wall_clock: WallClock,
        windows: CustomerWindows | None = None,
    ) -> None:
        self.windows = windows or CustomerWindows()
        self._poster = poster
        self._config = config
        self._rng = rng
        self._ids = ids
        self._wall_clock = wall_clock
        self._generation = 0
        self.pending = 0
        """Sends whose webhooks are not all posted yet."""

    def follow(
        self, send: AcceptedSend, callback_data: str | None, failure: Verdict | None = None
    ) -> None:
        """Schedule ``send``'s webhooks; no webhook URL for its dialect, nothing to do.

        With ``failure``, the send was taken only to fail: one ``failed`` status naming it.
        The first step, when due at once (``sent``/echo), is queued before this returns.
        """
        if self._poster.url_for(send.dialect) is None:
            return
        config = self._config()
        if failure is not None:
            journey = _Journey(
                send,
                callback_data,
                [(config.delivered_after_seconds, FAILED)],
                None,
                self._generation,
                failure,
            )
        else:
            replies = self._rng.random() < config.reply_probability
            reads = replies or self._rng.random() < config.read_probability
            steps = [(config.delivered_after_seconds, DELIVERED)]
            says_sent = config.sent_status if send.dialect is Dialect.CLOUD else config.send_echo
            if says_sent:
                steps.insert(0, (0.0, SENT))
            if reads:
                steps.append((config.read_after_seconds, READ))
            if replies:
                steps.append((config.reply_after_seconds, REPLY))
            reply_text = pick_reply(self._rng) if replies else None
            journey = _Journey(send, callback_data, steps, reply_text, self._generation)
        self.pending += 1
        if journey.steps[0][1] == SENT:
            self._step_due(journey)
        else:
            self._schedule_next(journey)

    def cancel_all(self) -> None:
        """Forget every scheduled webhook, so nothing from before a reset arrives after it."""
        self._generation += 1
        self.pending = 0

    def inbound_event(
        self, dialect: Dialect, sender: str, from_number: str, text: str
    ) -> InboundEvent:
        """Doctor ``from_number`` writing ``text`` to our number ``sender``, now: this opens
        their 24 h window."""
        at = self._wall_clock()
        self.windows.opened(sender, from_number, at)
        provider_message_id = (
            self._ids.cloud_message_id(from_number)
            if dialect is Dialect.CLOUD
            else self._ids.evolution_message_id()
        )
        return InboundEvent(
            dialect=dialect,
            sender=sender,
            from_number=from_number,
            profile_name=doctor_name(from_number),
            text=text,
            provider_message_id=provider_message_id,
            at=at,
        )

    def _schedule_next(self, journey: _Journey) -> None:
        delay = journey.steps[0][0]
        asyncio.get_running_loop().call_later(delay, self._step_due, journey)

    def _step_due(self, journey: _Journey) -> None:
        if journey.generation != self._generation:
            return
        _, step = journey.steps.pop(0)
        then = self._continue if journey.steps else self._finish
        event = self._event(journey, step)
        event.then = lambda: then(journey)
        self._poster.enqueue(event)

    def _event(self, journey: _Journey, step: str) -> WebhookEvent:
        send = journey.send
        if step == REPLY:
            return self.inbound_event(
                send.dialect, send.sender, send.recipient, journey.reply_text or ""
            )
        if step == SENT and send.dialect is Dialect.EVOLUTION:
            return EchoEvent(
                dialect=send.dialect,
                sender=send.sender,
                recipient=send.recipient,
                provider_message_id=send.provider_message_id,
                body=send.body,
                at=send.accepted_at,
            )
        return StatusEvent(
            dialect=send.dialect,
            sender=send.sender,
            recipient=send.recipient,
            provider_message_id=send.provider_message_id,
            status=step,
            at=send.accepted_at if step == SENT else self._wall_clock(),
            callback_data=journey.callback_data,
            failure=journey.failure if step == FAILED else None,
        )

    def _continue(self, journey: _Journey) -> None:
        if journey.generation == self._generation:
            self._schedule_next(journey)

    def _finish(self, journey: _Journey) -> None:
        if journey.generation == self._generation:
            self.pending -= 1
