"""A failing event handler gets the event again, later, instead of losing it."""

import json
from dataclasses import replace
from uuid import uuid4

from litestar import post
from litestar.testing import AsyncTestClient
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from disparo_dispatcher.spec import SPEC
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import MessagesRequested, RequestedMessage, subjects
from disparo_shared.events.subjects import DEAD_LETTER_PREFIX
from disparo_shared.nats_connection import connect
from disparo_shared.outbox import add_events
from disparo_shared.redelivery import MAX_DELAY_SECONDS, apply_or_give_up, redelivery_delay
from disparo_shared.runtime import Runtime, build_app
from disparo_shared.streams import qualified, stream_name
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

ACK_WAIT_SECONDS = 30  # the consumers' ack wait: JetStream's default, which they keep


def test_redelivery_delay_doubles_up_to_a_minute():
    assert [redelivery_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert redelivery_delay(50) == MAX_DELAY_SECONDS


async def test_event_is_redelivered_after_handler_failures(kernel_settings):
    runtime = Runtime(SPEC, kernel_settings)
    deliveries: list[MessagesRequested] = []

    @durable_subscriber(
        runtime.broker,
        kernel_settings.nats,
        stream=subjects.STREAM_COMMANDS,
        subject=subjects.MESSAGES_REQUESTED,
        durable="redelivery-test",
    )
    async def flaky_handler(event: MessagesRequested) -> None:
        deliveries.append(event)
        if len(deliveries) < 3:
            raise ConnectionError("database briefly away")

    @post("/emit", status_code=204)
    async def emit() -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await add_events(conn, [MessagesRequested(messages=[])])

    async with AsyncTestClient(build_app(runtime, [emit])) as client:
        await client.post("/emit", headers={"X-API-Key": TEST_API_KEY})

        async def handled_on_third_delivery() -> bool:
            return len(deliveries) >= 3

        await eventually(handled_on_third_delivery, timeout=20)
    assert len({event.event_id for event in deliveries}) == 1


class _FakeDelivery:
    """Just enough of a JetStream delivery to see what the consumer answered."""

    def __init__(self, num_delivered: int) -> None:
        metadata = type("Metadata", (), {"num_delivered": num_delivered})()
        self.raw_message = type("Raw", (), {"metadata": metadata})()
        self.answer: tuple[str, float | None] | None = None

    async def nack(self, delay: float | None = None) -> None:
        self.answer = ("nack", delay)

    async def reject(self) -> None:
        self.answer = ("reject", None)


async def _failing() -> None:
    raise ConnectionError("database briefly away")


async def test_a_failed_apply_is_redelivered_with_backoff():
    early = _FakeDelivery(3)
    await apply_or_give_up(
        early, _failing, max_deliveries=20, subject="message.sent", event_id="e1"
    )
    assert early.answer == ("nack", redelivery_delay(3))


async def test_a_poison_event_is_dead_lettered_and_never_blocks_the_events_behind_it(
    kernel_settings,
):
    settings = replace(
        kernel_settings, nats=kernel_settings.nats.model_copy(update={"max_deliveries": 2})
    )
    runtime = Runtime(SPEC, settings)
    handled: list[int] = []
    before = _dead_lettered(subjects.MESSAGES_REQUESTED)

    @durable_subscriber(
        runtime.broker,
        settings.nats,
        stream=subjects.STREAM_COMMANDS,
        subject=subjects.MESSAGES_REQUESTED,
        durable="poison-test",
        batch_size=1,
    )
    async def handler(event: MessagesRequested) -> None:
        if not event.messages:
            raise ValueError("a body no version of this handler can process")
        handled.append(len(event.messages))

    poison = MessagesRequested(messages=[])
    healthy = MessagesRequested(messages=[_requested()])

    @post("/emit", status_code=204)
    async def emit() -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await add_events(conn, [poison, healthy])

    prefix = settings.nats.stream_prefix
    # The service runs in the test client's own thread and event loop: read the dead letters
    # through a connection of this loop, not the service's.
    reader = await connect(settings.nats, "poison-test-reader")
    js = reader.jetstream()

    async def dead_lettered():
        try:
            return await js.get_last_msg(
                stream_name(prefix, subjects.STREAM_DEAD_LETTERS),
                qualified(prefix, DEAD_LETTER_PREFIX + subjects.MESSAGES_REQUESTED),
            )
        except NotFoundError:
            return None

    try:
        async with AsyncTestClient(build_app(runtime, [emit])) as client:
            await client.post("/emit", headers={"X-API-Key": TEST_API_KEY})
            await eventually(lambda: _has(handled, 1), timeout=20)  # not held back by the poison
            # 1 s after the first failure; on a server older than 2.10 the delayed nak may be
            # lost and the ack wait (30 s) brings the second delivery (see nats_connection)
            letter = await eventually(dead_lettered, timeout=ACK_WAIT_SECONDS + 15)
    finally:
        await reader.close()
    assert json.loads(letter.data)["event_id"] == str(poison.event_id)
    assert "ValueError" in letter.headers["Disparo-Dead-Letter-Reason"]
    assert _dead_lettered(subjects.MESSAGES_REQUESTED) == before + 1
    # 2 (max_deliveries) and one healthy event on a recent server; the old one miscounts
    # deliveries and may re-send the healthy event (at least once: the inboxes absorb it)
    assert int(letter.headers["Disparo-Dead-Letter-Deliveries"]) >= 2
    assert set(handled) == {1}


def _requested() -> RequestedMessage:
    message_id = uuid4()
    return RequestedMessage(
        message_id=message_id,
        idempotency_key=f"poison:{message_id}",
        phone="+5511987654321",
        kind="campaign",
        body="Olá!",
    )


def _dead_lettered(subject: str) -> float:
    return (
        REGISTRY.get_sample_value("disparo_events_dead_lettered_total", {"subject": subject}) or 0.0
    )


async def _has(items: list, count: int) -> bool:
    return len(items) >= count
