"""The outbox and consumer gauges read the real outbox table and JetStream consumer state."""

import nats
import pytest
from prometheus_client import REGISTRY

from disparo_shared.bus_rights import Consumer
from disparo_shared.db import create_pool
from disparo_shared.events import subjects
from disparo_shared.kernel_metrics import refresh_consumers, refresh_outbox
from disparo_shared.migrations import migrate
from disparo_shared.settings import DatabaseSettings
from disparo_shared.streams import ensure_streams, qualified, stream_name

SCHEMA = "kernel_metrics_test"


@pytest.fixture
async def pool(database_url, tmp_path):
    await migrate(database_url, SCHEMA, tmp_path)  # kernel tables only: outbox, inbox
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), SCHEMA
    )
    yield pool
    await pool.close()


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_outbox_backlog_and_age_come_from_the_table(pool) -> None:
    await refresh_outbox(pool, "svc-empty")
    assert gauge("disparo_outbox_backlog_events", service="svc-empty") == 0
    assert gauge("disparo_outbox_oldest_age_seconds", service="svc-empty") == 0
    await pool.execute(
        "INSERT INTO outbox (event_id, subject, payload, created_at)"
        " SELECT gen_random_uuid(), 'x', '{}', now() - make_interval(secs => g)"
        " FROM generate_series(1, 3) g"
    )
    await refresh_outbox(pool, "svc-busy")
    assert gauge("disparo_outbox_backlog_events", service="svc-busy") == 3
    assert gauge("disparo_outbox_oldest_age_seconds", service="svc-busy") >= 3


async def test_consumer_gauges_follow_pending_and_acks(nats_settings) -> None:
    prefix = nats_settings.stream_prefix
    nc = await nats.connect(nats_settings.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, nats_settings)
        durable = "metricsvc-contacts"
        consumer = Consumer(subjects.STREAM_CONTACTS, durable)
        subscription = await js.pull_subscribe(
            qualified(prefix, subjects.CONTACT_ALL),
            durable=durable,
            stream=stream_name(prefix, subjects.STREAM_CONTACTS),
        )
        for _ in range(3):
            await js.publish(qualified(prefix, subjects.CONTACT_OPTED_OUT), b"{}")
        await refresh_consumers(js, prefix, "metricsvc", [consumer])
        assert gauge("disparo_consumer_pending_messages", service="metricsvc", durable=durable) == 3
        assert (
            gauge(
                "disparo_consumer_last_ack_timestamp_seconds", service="metricsvc", durable=durable
            )
            == 0
        )

        [first] = await subscription.fetch(1, timeout=5)
        await first.ack_sync()
        await refresh_consumers(js, prefix, "metricsvc", [consumer])
        assert gauge("disparo_consumer_pending_messages", service="metricsvc", durable=durable) == 2
        assert (
            gauge(
                "disparo_consumer_last_ack_timestamp_seconds", service="metricsvc", durable=durable
            )
            > 0
        )
    finally:
        await nc.close()
