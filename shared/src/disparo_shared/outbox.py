"""The transactional outbox: events commit with the state they describe, a relay publishes them.

Writers call ``add_events`` inside their transaction. ``OutboxRelay`` wakes on NOTIFY (or every
``poll_seconds``), locks a batch with SKIP LOCKED so replicas split the work, publishes each
event with ``Nats-Msg-Id = event_id`` and deletes the batch in the same transaction. If the relay
dies between publish and delete, the batch is published again and JetStream's duplicate window
drops the copies; consumers' inboxes catch anything older than the window.

An event NATS can never take (larger than the server's max payload) would be retried forever
and hold back every event behind it, so the relay moves it to ``outbox_dead`` instead, counts it
(``disparo_outbox_dead_letters_total``, alert on any increase) and logs it as an error.
"""

import asyncio
import json
from collections.abc import Mapping, Sequence
from uuid import UUID

import asyncpg
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from opentelemetry import propagate
from prometheus_client import Counter

from disparo_shared.events.base import Event, SerializedEvent
from disparo_shared.logging import get_logger
from disparo_shared.streams import qualified
from disparo_shared.telemetry import traceparent_of
from disparo_shared.waiting import wait_for_event

NOTIFY_CHANNEL = "disparo_outbox"

log = get_logger(__name__)

PUBLISH_ACK_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_PAYLOAD = 1024 * 1024  # NATS's default; the relay is told the server's own

DEAD_LETTERS = Counter(
    "disparo_outbox_dead_letters_total",
    "Outbox events moved to outbox_dead because NATS cannot take them (alert on any).",
    ["schema", "subject"],
)


def _trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def add_events(
    conn: asyncpg.Connection,
    events: Sequence[Event | SerializedEvent],
    traced: Mapping[UUID, bytes] | None = None,
) -> None:
    """Stage ``events`` in the caller's transaction; they are published after it commits.

    Each event carries the trace context current here, or, when ``traced`` names its event id,
    that packed context (``telemetry.pack_context``): a batch written at once (the dispatcher's
    flush) tells each message's event in that message's own trace.
    """
    if not events:
        return
    headers = _trace_headers()
    shared_headers = json.dumps(headers)  # most events of a batch carry just these
    traced = traced or {}

    def headers_of(event: Event | SerializedEvent) -> str:
        packed = traced.get(event.event_id)
        if packed is None:
            return shared_headers
        return json.dumps({"traceparent": traceparent_of(packed)})

    # One statement over arrays, not one INSERT per event: a flush of a thousand sends is one
    # execution in Postgres. Payloads are serialised by pydantic (or came serialised) and stored
    # as that text (the json codec's json.dumps is far slower); the ordinality keeps the outbox
    # ids, and so the order the relay publishes in, the order of ``events``.
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, payload, headers)"
        " SELECT event_id, subject, payload::json, headers::jsonb"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY"
        " AS e(event_id, subject, payload, headers, position)"
        " ORDER BY position",
        [e.event_id for e in events],
        [e.publish_subject for e in events],
        [_payload(e) for e in events],
        [headers_of(e) for e in events],
    )
    await conn.execute("SELECT pg_notify($1, current_schema())", NOTIFY_CHANNEL)


def _payload(event: Event | SerializedEvent) -> str:
    if isinstance(event, SerializedEvent):
        return event.payload.decode()
    return event.model_dump_json()


# The relay's first read: the oldest events, locked, with their sizes. It walks the outbox's id
# index from its start, dead entries included, so it slows as deleted events pile up unvacuumed
# (``python -m disparo.bench.outbox_churn``).
LOCK_HEAD = (
    "SELECT id, pg_column_size(payload) AS size FROM outbox"
    " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
)


class OutboxRelay:
    """Publishes one schema's outbox to JetStream until stopped."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        subject_prefix: str = "",
        batch_size: int = 500,
        batch_max_bytes: int = 8 * 1024 * 1024,
        poll_seconds: float = 1.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        schema: str = "",
    ) -> None:
        self._pool = pool
        self._js = js
        self._prefix = subject_prefix
        self._batch_size = batch_size
        self._batch_max_bytes = batch_max_bytes
        self._poll_seconds = poll_seconds
        self._max_payload = max_payload
        self._schema = schema
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = await self._pool.acquire()
        try:
            await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
            while True:
                # Cleared before reading, so a NOTIFY that lands during the batch is not lost.
                self._wake.clear()
                try:
                    published = await self.publish_batch()
                except (TimeoutError, asyncpg.PostgresError, OSError, NatsError) as exc:
                    log.warning("outbox relay batch failed; retrying", error=str(exc))
                    published = 0
                if published == 0:
                    await wait_for_event(self._wake, self._poll_seconds)
        finally:
            await listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(listener)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, _payload: str) -> None:
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish and delete up to one batch; return how many events went out."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Lock by id first and load payloads only up to a byte budget: a batch of large
            # events (a fan-out chunk is hundreds of KB) must not balloon the relay's memory.
            locked = await conn.fetch(LOCK_HEAD, self._batch_size)
            ids, budget = [], self._batch_max_bytes
            for row in locked:
                if ids and row["size"] > budget:
                    break
                ids.append(row["id"])
                budget -= row["size"]
            # The payload as text: decoding and re-encoding a fan-out chunk's JSON costs more
            # than publishing it.
            rows = await conn.fetch(
                "SELECT id, event_id, subject, payload::text AS payload, headers FROM outbox"
                " WHERE id = ANY($1::bigint[]) ORDER BY id",
                ids,
            )
            if not rows:
                return 0
            publishable = []
            for row in rows:
                size = len(row["payload"].encode())
                if size > self._max_payload:
                    await self._dead_letter(
                        conn,
                        row,
                        size,
                        f"over the max payload ({size} > {self._max_payload} bytes)",
                    )
                else:
                    publishable.append(row)
            too_large = await self._publish_all(publishable)
            for row in too_large:
                size = len(row["payload"].encode())
                await self._dead_letter(conn, row, size, "NATS refused it: over the max payload")
            await conn.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
            return len(publishable) - len(too_large)

    async def _dead_letter(
        self, conn: asyncpg.Connection, row: asyncpg.Record, size: int, reason: str
    ) -> None:
        """Move one unpublishable event aside, count it and say so (an operator must act)."""
        await conn.execute(
            "INSERT INTO outbox_dead (id, event_id, subject, payload, headers, size_bytes,"
            " reason, created_at) SELECT id, event_id, subject, payload::text, headers, $2, $3,"
            " created_at FROM outbox WHERE id = $1 ON CONFLICT (event_id) DO NOTHING",
            row["id"],
            size,
            reason,
        )
        DEAD_LETTERS.labels(self._schema, row["subject"]).inc()
        log.error(
            "outbox event dead-lettered",
            event_id=str(row["event_id"]),
            subject=row["subject"],
            size_bytes=size,
            reason=reason,
        )

    async def _publish_all(self, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
        """Publish every row, then wait for all of JetStream's acks at once.

        ``publish_async`` writes each event without waiting for its ack; one awaited
        ``publish`` per event cost a request round trip and a timer each. A batch that is not
        fully acked within the timeout raises, stays in the outbox and is published again (the
        stream's duplicate window drops the copies). Returns the rows the client refused as
        too large (the server's max payload, counted with headers), for the dead letters.
        """
        acks, too_large = [], []
        for row in rows:
            headers = {**row["headers"], "Nats-Msg-Id": str(row["event_id"])}
            try:
                ack = await self._js.publish_async(
                    qualified(self._prefix, row["subject"]),
                    row["payload"].encode(),
                    headers=headers,
                )
            except MaxPayloadError:
                too_large.append(row)
                continue
            acks.append(ack)
        # asyncio.timeout, not wait_for: a stop landing as the acks arrive must not be lost
        # (``waiting``).
        async with asyncio.timeout(PUBLISH_ACK_TIMEOUT_SECONDS):
            await asyncio.gather(*acks)
        return too_large
