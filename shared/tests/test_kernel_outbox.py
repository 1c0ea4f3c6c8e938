"""The outbox: events commit with their transaction and reach JetStream once, whatever dies."""

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import nats
import pytest

from disparo_shared.db import create_pool
from disparo_shared.events import (
    MessageKind,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
    SentMessage,
)
from disparo_shared.migrations import migrate
from disparo_shared.outbox import OutboxRelay, add_events
from disparo_shared.settings import DatabaseSettings
from disparo_shared.streams import ensure_streams, stream_name

SCHEMA = "outbox_test"


class RelayKilled(Exception):
    """Stands for the relay process dying right after a publish, before its DELETE commits."""


class DiesAfterPublishing:
    """A JetStream context whose publishes reach the server, then the 'process' dies."""

    def __init__(self, js) -> None:
        self._js = js

    async def publish_async(self, *args, **kwargs):
        await (await self._js.publish_async(*args, **kwargs))  # stored by the stream
        raise RelayKilled


def sent_event() -> MessagesSent:
    return MessagesSent(
        messages=[
            SentMessage(
                message_id=uuid.uuid4(),
                kind=MessageKind.CAMPAIGN,
                provider_message_id=f"wamid.{uuid.uuid4().hex}",
                sender="sim-1",
                attempt=1,
                sent_at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
            )
        ]
    )


@pytest.fixture
async def pool(database_url, tmp_path):
    await migrate(database_url, SCHEMA, tmp_path)  # kernel tables only: outbox, inbox
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=3), SCHEMA
    )
    yield pool
    await pool.close()


@pytest.fixture
async def js(nats_settings):
    nc = await nats.connect(nats_settings.url)
    js = nc.jetstream()
    await ensure_streams(js, nats_settings)
    yield js
    await nc.close()


@pytest.fixture
def messages_stream(nats_settings) -> str:
    return stream_name(nats_settings.stream_prefix, "MESSAGES")


async def stream_messages(js, stream: str) -> list:
    """Every message in ``stream``, in order, read by sequence."""
    state = (await js.stream_info(stream)).state
    if state.messages == 0:
        return []
    return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]


async def outbox_size(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox")


async def test_committed_events_are_published_with_their_id_as_nats_msg_id(
    pool, js, nats_settings, messages_stream
):
    events = [sent_event(), sent_event()]
    async with pool.acquire() as conn, conn.transaction():
        await add_events(conn, events)

    relay = OutboxRelay(pool, js, nats_settings.stream_prefix)
    assert await relay.publish_batch() == 2

    published = await stream_messages(js, messages_stream)
    assert [m.headers["Nats-Msg-Id"] for m in published] == [str(e.event_id) for e in events]
    assert [m.subject for m in published] == [f"{nats_settings.stream_prefix}message.sent"] * 2
    assert json.loads(published[0].data) == events[0].model_dump(mode="json")
    assert await outbox_size(pool) == 0


async def test_a_request_with_an_urgent_message_is_published_on_the_urgent_subject(
    pool, js, nats_settings
):
    """The dispatcher reads urgent requests through a consumer of their own, so a reply never
    waits behind a campaign's events; every other request keeps ``messages.requested``."""

    def requested(priority: int) -> RequestedMessage:
        message_id = uuid.uuid4()
        return RequestedMessage(
            message_id=message_id,
            idempotency_key=f"k:{message_id}",
            phone="+5511900000001",
            kind=MessageKind.REPLY,
            body="Olá",
            priority=priority,
        )

    urgent = MessagesRequested(messages=[requested(3), requested(8)])
    in_turn = MessagesRequested(messages=[requested(3), requested(7)])
    async with pool.acquire() as conn, conn.transaction():
        await add_events(conn, [urgent, in_turn])
    assert await OutboxRelay(pool, js, nats_settings.stream_prefix).publish_batch() == 2

    published = await stream_messages(js, stream_name(nats_settings.stream_prefix, "COMMANDS"))
    prefix = nats_settings.stream_prefix
    assert [(m.subject, m.headers["Nats-Msg-Id"]) for m in published] == [
        (f"{prefix}messages.requested.urgent", str(urgent.event_id)),
        (f"{prefix}messages.requested", str(in_turn.event_id)),
    ]


async def test_a_rolled_back_transaction_publishes_nothing(
    pool, js, nats_settings, messages_stream
):
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await add_events(conn, [sent_event()])
            raise RuntimeError("the state change failed")

    relay = OutboxRelay(pool, js, nats_settings.stream_prefix)
    assert await relay.publish_batch() == 0
    assert (await js.stream_info(messages_stream)).state.messages == 0


async def test_relay_dying_between_publish_and_delete_produces_no_duplicate(
    pool, js, nats_settings, messages_stream
):
    events = [sent_event() for _ in range(5)]
    async with pool.acquire() as conn, conn.transaction():
        await add_events(conn, events)

    dying = OutboxRelay(pool, DiesAfterPublishing(js), nats_settings.stream_prefix)
    with pytest.raises(RelayKilled):
        await dying.publish_batch()
    assert await outbox_size(pool) == 5  # the DELETE never committed

    restarted = OutboxRelay(pool, js, nats_settings.stream_prefix)
    assert await restarted.publish_batch() == 5

    published = await stream_messages(js, messages_stream)
    assert sorted(m.headers["Nats-Msg-Id"] for m in published) == sorted(
        str(e.event_id) for e in events
    )
    assert await outbox_size(pool) == 0


async def test_add_events_with_nothing_writes_nothing(pool):
    async with pool.acquire() as conn, conn.transaction():
        await add_events(conn, [])

    assert await outbox_size(pool) == 0
