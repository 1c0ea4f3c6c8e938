"""A durable consumer follows its subscriber's subject when the code changes that subject.

nats-py binds an existing durable consumer as it is: when a subscriber's subject changes (the
dispatcher's ``dispatcher-urgent-requests`` went from ``messages.requested`` to
``messages.requested.urgent``), the consumer left on the server would go on filtering the old
subject, and nothing would read the new one. At start, before the broker binds them, each
existing durable of the service's subscribers whose filter differs is updated to its
subscriber's subject (NATS keeps its place in the stream). Example: ``dispatcher-urgent-requests``
on ``COMMANDS`` filtering ``messages.requested`` becomes a filter on
``messages.requested.urgent`` and reads from there on.
"""

import contextlib
import time

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from disparo_shared.logging import get_logger
from disparo_shared.streams import until_answered

log = get_logger(__name__)


async def follow_subscriber_subjects(js: JetStreamContext, broker: NatsBroker) -> list[str]:
    """Update each existing durable consumer of ``broker``'s subscribers whose filter subject is
    not its subscriber's; return them as ``stream/durable``. A consumer not created yet is left
    to the broker, which creates it with the subscriber's subject."""
    changed = []
    for stream_name, durable, subject in durable_subscriptions(broker):
        try:
            info = await until_answered(js.consumer_info, stream_name, durable)
        except NotFoundError:
            continue
        if info.config.filter_subject == subject:
            continue
        await until_answered(
            js.add_consumer, stream_name, config=info.config.evolve(filter_subject=subject)
        )
        log.warning(
            "durable consumer now filters its subscriber's subject",
            consumer=f"{stream_name}/{durable}",
            was=info.config.filter_subject,
            subject=subject,
        )
        changed.append(f"{stream_name}/{durable}")
    return changed


async def broker_answers(broker: NatsBroker, probe_seconds: float) -> None:
    """Connect ``broker`` and wait until JetStream answers a lookup of one of its consumers on
    the broker's own connection, asking again every ``probe_seconds`` while it does not.

    On a three-node cluster a consumer lookup of the broker's start, asked right after it
    connected, waited out its whole 30 s and failed the start, although the service's other
    connection had just been answered the same lookups (``disparo chaos --cluster`` on a 2-core
    machine: two runs in five one evening). If it is the connection's first request that goes
    unanswered, this settles it before the start; if a later one, the warning's absence in such
    a failure says so. The lookup is one the start makes anyway: it needs no right the service
    lacks."""
    subscriptions = durable_subscriptions(broker)
    if not subscriptions:
        return
    stream_name, durable, _ = subscriptions[0]
    js = (await broker.connect()).jetstream()
    started = time.monotonic()
    with contextlib.suppress(NotFoundError):  # an answer all the same: the start creates it
        await until_answered(js.consumer_info, stream_name, durable, timeout=probe_seconds)
    if (waited := time.monotonic() - started) > probe_seconds:
        log.warning("JetStream answered the broker late", waited_seconds=round(waited, 1))


def durable_subscriptions(broker: NatsBroker) -> list[tuple[str, str, str]]:
    """(stream, durable consumer, subject) of each of ``broker``'s durable subscribers."""
    found = []
    for subscriber in broker.subscribers:
        stream = getattr(subscriber, "stream", None)
        durable = getattr(getattr(subscriber, "config", None), "durable_name", None)
        if stream is not None and durable is not None:
            found.append((stream.name, durable, subscriber.subject.broker_address))
    return found
