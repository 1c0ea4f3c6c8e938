"""A durable consumer left on the server with an old filter follows its subscriber's subject."""

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry.sdk.trace import TracerProvider

from disparo_shared.broker import create_broker, durable_subscriber
from disparo_shared.consumer_filters import follow_subscriber_subjects
from disparo_shared.events import subjects
from disparo_shared.streams import ensure_streams, qualified, stream_name


@pytest.fixture
async def js(nats_settings):
    nc = await nats.connect(nats_settings.url)
    await ensure_streams(nc.jetstream(), nats_settings)
    yield nc.jetstream()
    await nc.close()


def urgent_broker(nats_settings):
    broker = create_broker(nats_settings, "dispatcher", TracerProvider())

    @durable_subscriber(
        broker,
        nats_settings,
        stream=subjects.STREAM_COMMANDS,
        subject=subjects.MESSAGES_REQUESTED_URGENT,
        durable="dispatcher-urgent-requests",
    )
    async def handle(body: dict) -> None:
        return None

    return broker


async def test_a_consumer_filtering_an_old_subject_is_moved_to_its_subscribers(js, nats_settings):
    prefix = nats_settings.stream_prefix
    stream = stream_name(prefix, subjects.STREAM_COMMANDS)
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name="dispatcher-urgent-requests",
            filter_subject=qualified(prefix, subjects.MESSAGES_REQUESTED),
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )
    broker = urgent_broker(nats_settings)

    changed = await follow_subscriber_subjects(js, broker)

    assert changed == [f"{stream}/dispatcher-urgent-requests"]
    info = await js.consumer_info(stream, "dispatcher-urgent-requests")
    assert info.config.filter_subject == qualified(prefix, subjects.MESSAGES_REQUESTED_URGENT)
    assert await follow_subscriber_subjects(js, broker) == []  # in step: nothing to do


async def test_a_consumer_not_created_yet_is_left_to_the_broker(js, nats_settings):
    assert await follow_subscriber_subjects(js, urgent_broker(nats_settings)) == []
