"""Followup under test: the real app (lifespan, Postgres, NATS) with a clock the test moves,
and a way to publish events onto the test's streams."""

from collections.abc import AsyncIterator

import nats
import pytest
from followup_harness import T0, Clock, Publish
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from disparo_followup.app import create_app
from disparo_followup.settings import FollowupSettings
from disparo_shared.events import Event
from disparo_shared.runtime import KernelSettings
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import TEST_API_KEY


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def client(kernel_settings: KernelSettings, clock: Clock) -> AsyncIterator[AsyncTestClient]:
    app = create_app(kernel_settings, FollowupSettings(), clock=clock, run_daily_job=False)
    async with AsyncTestClient(app, base_url="http://followup.local") as test_client:
        test_client.headers["X-API-Key"] = TEST_API_KEY
        yield test_client


@pytest.fixture
async def js(
    kernel_settings: KernelSettings, client: AsyncTestClient
) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(kernel_settings.nats.url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
def publish(kernel_settings: KernelSettings, js: JetStreamContext) -> Publish:
    async def _publish(event: Event) -> None:
        await js.publish(
            qualified(kernel_settings.nats.stream_prefix, event.publish_subject),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )

    return _publish
