"""JetStream stream declarations and subject naming, applied idempotently at every start."""

import asyncio
from datetime import timedelta

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from disparo_shared.events.subjects import STREAM_SUBJECTS
from disparo_shared.settings import NatsSettings


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
    """Create missing streams and bring existing ones to the declared config."""
    for config in stream_configs(settings):
        try:
            await _stream_answering(js, config.name)
        except NotFoundError:
            await js.add_stream(config)
            # On a cluster a new stream answers only once its replicas have elected a leader;
            # until then the consumers' requests that follow time out and the service dies.
            await _stream_answering(js, config.name)
        else:
            await js.update_stream(config)


async def _stream_answering(js: JetStreamContext, name: str, within_seconds: float = 60) -> None:
    """Ask a stream for its info until it answers (a cluster electing its leader times out)."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        try:
            await js.stream_info(name)
            return
        except NatsTimeoutError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)
