"""What each service may do on the event bus, and the NATS permissions that enforce it.

A service declares its ``BusRights`` in its ``ServiceSpec`` from the subject constants: the
subjects it publishes, the durable consumers it reads, the streams it replays. ``permissions``
turns a declaration into a NATS user's publish/subscribe allow-lists, which ``disparo
nats-config`` writes into the server's configuration, so the server refuses anything else: a
reporting pod publishing ``messages.requested`` (send any WhatsApp message) is dropped with a
permissions violation, and no service can pull or acknowledge another service's consumer.

What the JetStream client needs beyond its own subjects, per declared consumer on stream ``S``
(durable ``D``): ``$JS.API.CONSUMER.INFO|DURABLE.CREATE|MSG.NEXT.S.D``, ``CONSUMER.CREATE.S.D``
and ``CONSUMER.CREATE.S.D.>`` (nats-py names the filter subject in the creation subject), acks
on ``$JS.ACK.S.D.>``; a replayed stream adds its info, an ephemeral ordered consumer
(``CONSUMER.CREATE.S``, its deletion, flow control on ``$JS.FC.S.>``). Replies (publish acks,
pulled messages) come to the user's own inbox ``_INBOX.<user>.>``, so nobody reads another's.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from disparo_shared.events.subjects import DEAD_LETTER_ALL
from disparo_shared.streams import qualified, stream_name


@dataclass(frozen=True)
class Consumer:
    """A durable pull consumer a service reads: stream (unprefixed) and durable name."""

    stream: str
    durable: str


@dataclass(frozen=True)
class BusRights:
    """A NATS user's rights, in the code's own terms (unprefixed subjects and stream names)."""

    publishes: tuple[str, ...] = ()
    consumes: tuple[Consumer, ...] = ()
    replays: tuple[str, ...] = ()
    """Streams read from their first message by an ephemeral ordered consumer (a rebuild)."""
    manages_streams: Iterable[str] = ()
    """Streams this user may create and update (the migration Job's user, never a service)."""


def inbox_prefix(user: str) -> str:
    """The reply subjects of ``user``'s connections; ``permissions`` lets it read only these."""
    return f"_INBOX.{user}"


def permissions(user: str, rights: BusRights, prefix: str = "") -> dict[str, dict[str, list]]:
    """NATS ``permissions`` of ``user`` (publish and subscribe allow-lists) on ``prefix``.

    Example: the dispatcher's consumer of ``COMMANDS`` as ``dispatcher-messages-requested``
    gives ``$JS.API.CONSUMER.MSG.NEXT.COMMANDS.dispatcher-messages-requested`` and
    ``$JS.ACK.COMMANDS.dispatcher-messages-requested.>``, and nothing on another durable.
    """
    publish = [qualified(prefix, subject) for subject in rights.publishes]
    publish.append("$JS.API.INFO")
    if rights.consumes:
        # A consumer copies an event it cannot process to the dead letters (redelivery.py).
        publish.append(qualified(prefix, DEAD_LETTER_ALL))
    for consumer in rights.consumes:
        stream = stream_name(prefix, consumer.stream)
        durable = consumer.durable
        publish += [
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    for replayed in rights.replays:
        stream = stream_name(prefix, replayed)
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}",
            f"$JS.API.CONSUMER.DELETE.{stream}.*",
            f"$JS.FC.{stream}.>",
        ]
    for managed in rights.manages_streams:
        stream = stream_name(prefix, managed)
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.CREATE.{stream}",
            f"$JS.API.STREAM.UPDATE.{stream}",
        ]
    return {
        "publish": {"allow": _unique(publish)},
        "subscribe": {"allow": [f"{inbox_prefix(user)}.>"]},
    }


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
