"""Gauges every service exports about the kernel's two queues: its outbox and its consumers.

An operator pages on them: an outbox that grows (or whose oldest event ages) means events are
committed but not reaching NATS; a durable consumer with pending messages and no recent ack
means a service has stopped reading its stream. Both are refreshed by one background loop per
process, every ``interval_seconds``, from one SQL count and one JetStream call per consumer.
Labels are bounded: the service and its durable consumers' names.
"""

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime

import asyncpg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from prometheus_client import Gauge

from disparo_shared.bus_rights import Consumer
from disparo_shared.logging import get_logger
from disparo_shared.streams import stream_name

log = get_logger(__name__)

OUTBOX_BACKLOG = Gauge(
    "disparo_outbox_backlog_events",
    "Events committed to the service's outbox and not yet published to NATS.",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "disparo_outbox_oldest_age_seconds",
    "Age of the oldest event still in the service's outbox (0 when it is empty).",
    ["service"],
)
CONSUMER_PENDING = Gauge(
    "disparo_consumer_pending_messages",
    "Stream messages a durable consumer of this service has not yet been delivered.",
    ["service", "durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "disparo_consumer_ack_pending_messages",
    "Messages delivered to a durable consumer of this service and not yet acknowledged.",
    ["service", "durable"],
)
CONSUMER_LAST_ACK = Gauge(
    "disparo_consumer_last_ack_timestamp_seconds",
    "Unix time of the last acknowledgement by a durable consumer of this service "
    "(0 when it never acknowledged anything).",
    ["service", "durable"],
)

_OUTBOX_STATE = """
SELECT count(*) AS backlog,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age
FROM outbox
"""  # one statement, kept inline: the kernel has no query file for its own two tables


async def refresh_outbox(pool: asyncpg.Pool, service: str) -> None:
    row = await pool.fetchrow(_OUTBOX_STATE)
    OUTBOX_BACKLOG.labels(service).set(row["backlog"])
    OUTBOX_OLDEST_AGE.labels(service).set(row["oldest_age"])


async def refresh_consumers(
    js: JetStreamContext, prefix: str, service: str, consumers: Iterable[Consumer]
) -> None:
    """The service's declared durable consumers (its ``BusRights``): on a closed bus, their
    info is all its NATS user may read."""
    for consumer in consumers:
        stream = stream_name(prefix, consumer.stream)
        try:
            info = await js.consumer_info(stream, consumer.durable)
        except NatsError as exc:
            log.warning("consumer state unknown", consumer=consumer.durable, error=str(exc))
            continue
        labels = (service, consumer.durable)
        CONSUMER_PENDING.labels(*labels).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(*labels).set(info.num_ack_pending or 0)
        last = info.ack_floor.last_active if info.ack_floor else None
        CONSUMER_LAST_ACK.labels(*labels).set(_unix(last))


def _unix(last_active: datetime | None) -> float:
    return last_active.timestamp() if last_active is not None else 0.0


async def watch_kernel_metrics(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    prefix: str,
    service: str,
    consumers: Iterable[Consumer],
    interval_seconds: float = 15.0,
) -> None:
    """Refresh the outbox and consumer gauges until cancelled.

    A cancellation that lands while a NATS request completes can be swallowed by the request's
    ``wait_for`` (Python 3.11); the task still counts it (``cancelling()``), so the loop ends
    instead of keeping a stopping service waiting for it.
    """
    task = asyncio.current_task()
    while True:
        started = time.monotonic()
        await refresh_outbox(pool, service)
        await refresh_consumers(js, prefix, service, consumers)
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        await asyncio.sleep(max(0.0, interval_seconds - (time.monotonic() - started)))
