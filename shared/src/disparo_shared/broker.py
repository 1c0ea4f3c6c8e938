"""FastStream's NATS broker, with tracing and metrics, and durable JetStream subscriptions."""

import logging
from collections.abc import Callable
from typing import Any

from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY

from disparo_shared.nats_connection import broker_options, reply_inbox_prefix
from disparo_shared.redelivery import bounded_redelivery
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import qualified, stream_name


def _is_empty_fetch_restart(record: logging.LogRecord) -> bool:
    # nats-py answers an empty pull with asyncio.TimeoutError, which FastStream's supervisor logs
    # as an ERROR with a traceback before restarting the fetch: it only means "nothing to read".
    exc = record.exc_info[1] if record.exc_info else None
    return isinstance(exc, TimeoutError) and "raised an exception" in record.getMessage()


def _is_supervisor_chatter(record: logging.LogRecord) -> bool:
    # The same supervisor says "callback for Task-N is being executed..." at INFO each time a
    # subscriber task ends, failed or not: a line every few seconds per service that tells an
    # operator nothing (a failure is logged on its own, as above).
    return record.levelno <= logging.INFO and record.getMessage().endswith(" is being executed...")


def _is_noise(record: logging.LogRecord) -> bool:
    return _is_empty_fetch_restart(record) or _is_supervisor_chatter(record)


START_LOOKUP_SECONDS = 30.0

# FastStream's log lines go through our logging chain (masking included), minus that noise.
BROKER_LOGGER = logging.getLogger("disparo.broker")
BROKER_LOGGER.addFilter(lambda record: not _is_noise(record))


def create_broker(
    settings: NatsSettings, service_name: str, tracer_provider: TracerProvider
) -> NatsBroker:
    return NatsBroker(
        **broker_options(settings, service_name),
        middlewares=[
            bounded_redelivery(settings.stream_prefix, settings.max_deliveries),
            NatsTelemetryMiddleware(tracer_provider=tracer_provider),
            NatsPrometheusMiddleware(registry=REGISTRY, app_name=service_name),
        ],
        max_reconnect_attempts=-1,
        # The broker's JetStream requests are its start's consumer lookups (one per subscriber):
        # on a loaded three-node cluster one took over nats-py's 5 s default and killed the start.
        js_options={"timeout": START_LOOKUP_SECONDS},
        # per-message "Received/Processed" lines would dominate the logs at thousands per second
        log_level=logging.DEBUG,
        logger=BROKER_LOGGER,
        graceful_timeout=10.0,
    )


def durable_subscriber(
    broker: NatsBroker,
    settings: NatsSettings,
    *,
    stream: str,
    subject: str,
    durable: str,
    batch_size: int = 50,
    fetch_timeout: float = 1.0,
    decoder: Callable[[NatsMessage], Any] | None = None,
    max_workers: int = 1,
):
    """A pull subscription on an existing stream (``ensure_streams`` declares them).

    Durable, so a restarted service resumes where it stopped; messages are acked only after the
    handler returns, so a crash mid-handler means redelivery, which the inbox makes harmless.
    ``fetch_timeout`` bounds how long a pull waits for its batch to fill: a lone message that
    arrives while a pull is waiting is handed over only when the pull ends, so a subscriber
    that must react at once pulls one message at a time (a pull of one returns with its
    message), or asks for a short one.
    ``decoder`` replaces FastStream's JSON decoding of the body: what it returns is what the
    handler's one argument receives. With ``max_workers`` above 1 the pull hands each message
    to one of that many concurrent handlers and pulls again at once, instead of waiting for the
    whole pull's handlers.
    """
    inbox = reply_inbox_prefix(settings)
    return broker.subscriber(
        qualified(settings.stream_prefix, subject),
        stream=JStream(stream_name(settings.stream_prefix, stream), declare=False),
        durable=durable,
        pull_sub=PullSub(batch_size=batch_size, timeout=fetch_timeout),
        **({"decoder": decoder} if decoder is not None else {}),
        **({"max_workers": max_workers} if max_workers > 1 else {}),
        # pulled messages come to this inbox; on a closed bus it must be the user's own
        **({"inbox_prefix": f"{inbox}.".encode()} if inbox else {}),
    )
