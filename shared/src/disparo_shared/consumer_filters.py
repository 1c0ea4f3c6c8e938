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
    for subscriber in broker.subscribers:
        stream = getattr(subscriber, "stream", None)
        durable = getattr(getattr(subscriber, "config", None), "durable_name", None)
        if stream is None or durable is None:
            continue
        subject = subscriber.subject.broker_address
        try:
            info = await until_answered(js.consumer_info, stream.name, durable)
        except NotFoundError:
            continue
        if info.config.filter_subject == subject:
            continue
        await until_answered(
            js.add_consumer, stream.name, config=info.config.evolve(filter_subject=subject)
        )
        log.warning(
            "durable consumer now filters its subscriber's subject",
            consumer=f"{stream.name}/{durable}",
            was=info.config.filter_subject,
            subject=subject,
        )
        changed.append(f"{stream.name}/{durable}")
    return changed
