"""How big an event may be, and how a batch of messages is split to stay under it.

NATS refuses a message over its ``max_payload`` (1 MiB by default), and an outbox row the
relay cannot publish would block every event behind it; the relay moves such a row aside
(``outbox.py``), but writers should never produce one. ``MAX_EVENT_BYTES`` leaves a quarter of
the default for headers and for servers configured a little lower. Batch events split by bytes
(``split_requested``); their lists are also capped by count (``MAX_MESSAGES_PER_EVENT``), so a
bug that forgets to split fails loudly where the event is built.
"""

from collections.abc import Sequence

from disparo_shared.events.messages import (
    MAX_MESSAGES_PER_EVENT,
    MessagesRequested,
    RequestedMessage,
)

MAX_EVENT_BYTES = 768 * 1024
ENVELOPE_BYTES = 256  # event_id, occurred_at, schema_version and the list's brackets


def split_requested(
    messages: Sequence[RequestedMessage], max_bytes: int = MAX_EVENT_BYTES
) -> list[MessagesRequested]:
    """``MessagesRequested`` events carrying ``messages`` in order, each under ``max_bytes``.

    Example: 2,000 follow-ups of 1,500 characters (~3.5 MB) become five events of ~700 KB.
    """
    events: list[MessagesRequested] = []
    batch: list[RequestedMessage] = []
    size = ENVELOPE_BYTES
    for message in messages:
        message_bytes = len(message.model_dump_json().encode()) + 1
        if batch and (size + message_bytes > max_bytes or len(batch) >= MAX_MESSAGES_PER_EVENT):
            events.append(MessagesRequested(messages=batch))
            batch, size = [], ENVELOPE_BYTES
        batch.append(message)
        size += message_bytes
    if batch:
        events.append(MessagesRequested(messages=batch))
    return events
