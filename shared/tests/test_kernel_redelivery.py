"""A failing event handler gets the event again, later, instead of losing it."""

from litestar import post
from litestar.testing import AsyncTestClient

from disparo_dispatcher.spec import SPEC
from disparo_shared.broker import durable_subscriber
from disparo_shared.events import MessagesRequested, subjects
from disparo_shared.outbox import add_events
from disparo_shared.redelivery import MAX_DELAY_SECONDS, apply_or_give_up, redelivery_delay
from disparo_shared.runtime import Runtime, build_app
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually


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


async def test_a_failed_apply_is_redelivered_with_backoff_then_given_up():
    early, late = _FakeDelivery(3), _FakeDelivery(20)
    for delivery in (early, late):
        await apply_or_give_up(
            delivery, _failing, max_deliveries=20, subject="message.sent", event_id="e1"
        )
    assert early.answer == ("nack", redelivery_delay(3))
    assert late.answer == ("reject", None)
