"""Stream setup: idempotent, prefixed per world, and carrying the outbox's duplicate window."""

import nats
import pytest

from disparo_shared.events.subjects import STREAM_SUBJECTS
from disparo_shared.streams import ensure_streams, qualified, stream_name


@pytest.fixture
async def js(nats_settings):
    nc = await nats.connect(nats_settings.url)
    yield nc.jetstream()
    await nc.close()


async def test_streams_are_created_with_prefixed_names_and_subjects(js, nats_settings):
    await ensure_streams(js, nats_settings)

    prefix = nats_settings.stream_prefix
    for name, subjects in STREAM_SUBJECTS.items():
        info = await js.stream_info(stream_name(prefix, name))
        assert info.config.subjects == [qualified(prefix, s) for s in subjects]
        assert info.config.duplicate_window == nats_settings.duplicate_window_seconds


async def test_declaring_twice_keeps_the_messages(js, nats_settings):
    await ensure_streams(js, nats_settings)
    subject = qualified(nats_settings.stream_prefix, "message.sent")
    await js.publish(subject, b"{}", headers={"Nats-Msg-Id": "one"})

    await ensure_streams(js, nats_settings)

    info = await js.stream_info(stream_name(nats_settings.stream_prefix, "MESSAGES"))
    assert info.state.messages == 1


async def test_a_repeated_msg_id_is_stored_once(js, nats_settings):
    await ensure_streams(js, nats_settings)
    subject = qualified(nats_settings.stream_prefix, "message.sent")

    first = await js.publish(subject, b"{}", headers={"Nats-Msg-Id": "same"})
    second = await js.publish(subject, b"{}", headers={"Nats-Msg-Id": "same"})

    assert second.duplicate is True
    assert second.seq == first.seq
