"""Redelivery with backoff when a consumer's handler fails, and a dead letter when it keeps failing.

FastStream's default answers a handler exception with ``term`` (the event is never seen again).
A failed handler here usually means Postgres is briefly away, so the event is ``nak``-ed with a
delay that grows with the delivery count: 1 s, 2 s, 4 s … capped at 60 s. Handlers are
idempotent (inbox), so redelivery is always safe.

An event that fails ``max_deliveries`` times (20 by default: about 12 minutes of backoff) is
*poison*: a body no handler version can process, a bug. It is copied to the dead-letter subject
``dead_letter.<its subject>`` (stream ``DEAD_LETTERS``, with why, how often and for which
consumer in its headers), counted in ``disparo_events_dead_lettered_total{subject}``, and
terminated, so it no longer takes a place among the consumer's unacknowledged events and never
holds back those behind it. An operator reads the dead letters, fixes the cause, and republishes
them to their subject; the inboxes make that harmless.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from faststream import BaseMiddleware
from faststream.exceptions import HandlerException, NackMessage, RejectMessage
from faststream.nats.annotations import NatsMessage
from nats.aio.msg import Msg
from prometheus_client import Counter

from disparo_shared.events.subjects import DEAD_LETTER_PREFIX
from disparo_shared.logging import get_logger

MAX_DELAY_SECONDS = 60.0
DEFAULT_MAX_DELIVERIES = 20

DEAD_LETTERED = Counter(
    "disparo_events_dead_lettered_total",
    "Events a consumer failed on max_deliveries times, copied to dead_letter.<subject> and "
    "dropped from the consumer (poison), by subject.",
    ["subject"],
)

log = get_logger(__name__)


def redelivery_delay(num_delivered: int) -> float:
    """Seconds before the next delivery after ``num_delivered`` failed ones (1, 2, 4 … 60)."""
    return min(MAX_DELAY_SECONDS, 2.0 ** max(0, min(num_delivered - 1, 6)))


async def dead_letter(raw: Msg, prefix: str, subject: str, reason: str) -> None:
    """Copy ``raw`` (an event on ``prefix`` + ``subject``) to its dead-letter subject.

    Published on the connection the event came in on, with the JetStream id of the original
    plus ``:dead`` so a second copy (a redelivery racing the first) is dropped.
    """
    metadata = raw.metadata
    headers = {
        **(raw.headers or {}),
        "Disparo-Dead-Letter-Reason": reason[:500],
        "Disparo-Dead-Letter-Deliveries": str(metadata.num_delivered),
        "Disparo-Dead-Letter-Consumer": str(metadata.consumer),
        "Nats-Msg-Id": f"{metadata.stream}:{metadata.sequence.stream}:dead",
    }
    js = raw._client.jetstream()  # noqa: SLF001 - the connection the event came in on
    await js.publish(f"{prefix}{DEAD_LETTER_PREFIX}{subject}", raw.data, headers=headers)
    DEAD_LETTERED.labels(subject).inc()
    log.error(
        "event dead-lettered after repeated failures",
        subject=subject,
        deliveries=metadata.num_delivered,
        consumer=metadata.consumer,
        reason=reason[:200],
    )


def bounded_redelivery(
    prefix: str, max_deliveries: int = DEFAULT_MAX_DELIVERIES
) -> type[BaseMiddleware]:
    """The broker middleware: redeliver a failed event with backoff, dead-letter it after
    ``max_deliveries``. ``prefix`` is the stream prefix of the service's subjects."""

    class RedeliverWithBackoff(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            try:
                return await call_next(msg)
            except HandlerException:
                raise
            except Exception as exc:
                raw = msg.raw_message
                metadata = getattr(raw, "metadata", None)
                delivered = getattr(metadata, "num_delivered", 1) or 1
                subject = str(getattr(raw, "subject", "?")).removeprefix(prefix)
                if delivered >= max_deliveries:
                    await dead_letter(raw, prefix, subject, repr(exc))
                    raise RejectMessage from exc
                delay = redelivery_delay(delivered)
                log.warning(
                    "event handler failed; redelivering",
                    subject=subject,
                    delivered=delivered,
                    retry_in_seconds=delay,
                    error=repr(exc),
                )
                raise NackMessage(delay=delay) from exc

    return RedeliverWithBackoff


async def apply_or_give_up(
    msg: NatsMessage,
    apply: Callable[[], Awaitable[None]],
    *,
    max_deliveries: int,
    subject: str,
    event_id: str,
) -> None:
    """Run ``apply``; when it fails, redeliver with backoff, and after ``max_deliveries``
    dead-letter the event. For consumers whose state can be rebuilt (projections), where one
    poisoned event must not stall the stream forever."""
    try:
        await apply()
    except Exception as exc:
        deliveries = msg.raw_message.metadata.num_delivered
        if deliveries >= max_deliveries:
            raw = msg.raw_message
            prefix = raw.subject.removesuffix(subject)
            log.exception("event not applied; dead-lettering", subject=subject, event_id=event_id)
            await dead_letter(raw, prefix, subject, repr(exc))
            await msg.reject()
            return
        delay = redelivery_delay(deliveries)
        log.warning(
            "event not applied; redelivering",
            subject=subject,
            event_id=event_id,
            deliveries=deliveries,
            retry_in_seconds=delay,
            exc_info=True,
        )
        await msg.nack(delay=delay)
