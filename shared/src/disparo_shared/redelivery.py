"""Redelivery with backoff when a consumer's handler fails, instead of dropping the event.

FastStream's default answers a handler exception with ``term`` (the event is never seen again).
A failed handler here usually means Postgres is briefly away, so the event is ``nak``-ed with a
delay that grows with the delivery count: 1 s, 2 s, 4 s … capped at 60 s. Handlers are
idempotent (inbox), so redelivery is always safe.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from faststream import BaseMiddleware
from faststream.exceptions import HandlerException, NackMessage
from faststream.nats.annotations import NatsMessage

from disparo_shared.logging import get_logger

MAX_DELAY_SECONDS = 60.0

log = get_logger(__name__)


def redelivery_delay(num_delivered: int) -> float:
    """Seconds before the next delivery after ``num_delivered`` failed ones (1, 2, 4 … 60)."""
    return min(MAX_DELAY_SECONDS, 2.0 ** max(0, min(num_delivered - 1, 6)))


class RedeliverWithBackoff(BaseMiddleware):
    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        try:
            return await call_next(msg)
        except HandlerException:
            raise
        except Exception as exc:
            metadata = getattr(msg.raw_message, "metadata", None)
            delivered = getattr(metadata, "num_delivered", 1) or 1
            delay = redelivery_delay(delivered)
            log.warning(
                "event handler failed; redelivering",
                subject=getattr(msg.raw_message, "subject", "?"),
                delivered=delivered,
                retry_in_seconds=delay,
                error=repr(exc),
            )
            raise NackMessage(delay=delay) from exc


async def apply_or_give_up(
    msg: NatsMessage,
    apply: Callable[[], Awaitable[None]],
    *,
    max_deliveries: int,
    subject: str,
    event_id: str,
) -> None:
    """Run ``apply``; when it fails, redeliver with backoff, and after ``max_deliveries`` drop the
    event with an error log. For consumers whose state can be rebuilt (projections), where one
    poisoned event must not stall the stream forever."""
    try:
        await apply()
    except Exception:
        deliveries = msg.raw_message.metadata.num_delivered
        if deliveries >= max_deliveries:
            log.exception(
                "event dropped after repeated failures",
                subject=subject,
                event_id=event_id,
                deliveries=deliveries,
            )
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
