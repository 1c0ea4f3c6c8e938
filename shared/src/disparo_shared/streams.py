"""JetStream stream declarations and subject naming, applied idempotently at every start."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

from disparo_shared.events.subjects import STREAM_SUBJECTS
from disparo_shared.settings import NatsSettings

T = TypeVar("T")
ELECTION_SECONDS = 60  # longer than any leader election seen on a loaded 2-core machine


def qualified(prefix: str, subject: str) -> str:
    """The subject as it travels: ``stream_prefix`` lets isolated worlds share one server."""
    return f"{prefix}{subject}"


def stream_name(prefix: str, name: str) -> str:
    return f"{prefix.replace('.', '_').upper()}{name}"


def stream_configs(settings: NatsSettings) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=stream_name(settings.stream_prefix, name),
            subjects=[qualified(settings.stream_prefix, s) for s in subjects],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=timedelta(days=settings.max_age_days).total_seconds(),
            duplicate_window=float(settings.duplicate_window_seconds),
            num_replicas=settings.replicas,
        )
        for name, subjects in STREAM_SUBJECTS.items()
    ]


async def ensure_streams(js: JetStreamContext, settings: NatsSettings) -> None:
    """Create missing streams and bring existing ones to the declared config.

    On a cluster every request may time out while a leader is elected (the meta leader for
    creating, the stream's replicas for the rest), and a new stream answers only once its own
    leader is elected: each request is retried until it answers, so that a service's consumers,
    which ask right after, do not time out and kill it at start. Retrying a create that timed
    out is safe: JetStream accepts the same config again."""
    for config in stream_configs(settings):
        try:
            await until_answered(js.stream_info, config.name)
        except NotFoundError:
            await until_answered(js.add_stream, config)
            await until_answered(js.stream_info, config.name)
        else:
            await until_answered(js.update_stream, config)


async def until_answered(
    request: Callable[..., Awaitable[T]], *arguments: object, **options: object
) -> T:
    """A JetStream API request, asked again every 0.5 s for up to a minute while it times out or
    JetStream says it is temporarily unavailable (503: a cluster electing a leader); for every
    request a service makes at start."""
    deadline = asyncio.get_running_loop().time() + ELECTION_SECONDS
    while True:
        try:
            return await request(*arguments, **options)
        except (NatsTimeoutError, ServiceUnavailableError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)
