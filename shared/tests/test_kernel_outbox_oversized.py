"""One event too large for NATS never stalls an outbox: it goes to a dead-letter table, loudly."""

import uuid

import nats
import pytest
from prometheus_client import REGISTRY

from disparo_shared.db import create_pool
from disparo_shared.events import MessageKind, MessagesRequested, RequestedMessage
from disparo_shared.events.sizing import MAX_EVENT_BYTES, split_requested
from disparo_shared.migrations import migrate
from disparo_shared.outbox import OutboxRelay, add_events
from disparo_shared.settings import DatabaseSettings
from disparo_shared.streams import ensure_streams, qualified

SCHEMA = "outbox_oversized"
MAX_PAYLOAD = 64 * 1024


def requested(count: int, body_chars: int = 2000) -> list[RequestedMessage]:
    return [
        RequestedMessage(
            message_id=uuid.uuid4(),
            idempotency_key=f"k-{uuid.uuid4()}",
            phone="+5511987654321",
            kind=MessageKind.FOLLOWUP,
            body="x" * body_chars,
        )
        for _ in range(count)
    ]


@pytest.fixture
async def pool(database_url, tmp_path):
    await migrate(database_url, SCHEMA, tmp_path)
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=3), SCHEMA)
    yield pool
    await pool.close()


@pytest.fixture
async def js(nats_settings):
    nc = await nats.connect(nats_settings.url)
    js = nc.jetstream()
    await ensure_streams(js, nats_settings)
    yield js
    await nc.close()


def dead_letters_counted(subject: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "disparo_outbox_dead_letters_total", {"schema": SCHEMA, "subject": subject}
        )
        or 0.0
    )


async def test_an_oversized_event_is_dead_lettered_and_the_rest_is_published(
    pool, js, nats_settings
):
    small_before = MessagesRequested(messages=requested(1, 10))
    huge = MessagesRequested(messages=requested(60))  # ~130 KB > the 64 KB max payload
    small_after = MessagesRequested(messages=requested(1, 10))
    async with pool.acquire() as conn, conn.transaction():
        await add_events(conn, [small_before, huge, small_after])
    counted = dead_letters_counted(MessagesRequested.subject)
    relay = OutboxRelay(
        pool, js, nats_settings.stream_prefix, max_payload=MAX_PAYLOAD, schema=SCHEMA
    )

    assert await relay.publish_batch() == 2  # the two that fit went out
    assert await relay.publish_batch() == 0  # nothing left to spin on
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    dead = await pool.fetchrow("SELECT event_id, subject, size_bytes, reason FROM outbox_dead")
    assert dead["event_id"] == huge.event_id
    assert dead["subject"] == MessagesRequested.subject
    assert dead["size_bytes"] > MAX_PAYLOAD and "max payload" in dead["reason"]
    assert dead_letters_counted(MessagesRequested.subject) == counted + 1
    stream = await js.find_stream_name_by_subject(
        qualified(nats_settings.stream_prefix, MessagesRequested.subject)
    )
    assert (await js.stream_info(stream)).state.messages == 2


def test_requested_messages_are_split_into_events_under_the_byte_cap():
    messages = requested(2000, 1500)  # ~3.5 MB in one event
    events = split_requested(messages)
    assert len(events) > 1
    assert [m for e in events for m in e.messages] == messages
    assert all(len(e.model_dump_json()) <= MAX_EVENT_BYTES for e in events)


def test_an_event_model_refuses_more_messages_than_its_cap():
    with pytest.raises(ValueError):
        MessagesRequested(messages=requested(5001, 1))


async def test_an_event_over_the_servers_max_payload_never_blocks_the_relay(
    pool, js, nats_settings
):
    """Before: the relay retried this batch forever and nothing behind it went out."""
    huge = MessagesRequested(messages=requested(600))  # ~1.3 MB > NATS's 1 MiB
    after = MessagesRequested(messages=requested(1, 10))
    async with pool.acquire() as conn, conn.transaction():
        await add_events(conn, [huge, after])
    relay = OutboxRelay(pool, js, nats_settings.stream_prefix, schema=SCHEMA)
    assert await relay.publish_batch() == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await pool.fetchval("SELECT event_id FROM outbox_dead") == huge.event_id
