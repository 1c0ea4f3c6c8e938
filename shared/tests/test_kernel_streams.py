"""Stream setup: idempotent, prefixed per world, and carrying the outbox's duplicate window."""

import nats
import pytest
from nats.js.errors import BadRequestError, ServiceUnavailableError

from disparo_shared.events.subjects import STREAM_SUBJECTS
from disparo_shared.streams import ensure_streams, qualified, stream_name, until_answered


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


async def test_a_request_is_asked_again_while_jetstream_is_temporarily_unavailable():
    answers = [ServiceUnavailableError(code=503, description="temporarily unavailable"), "info"]

    async def request():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await until_answered(request) == "info"
    assert answers == []


async def test_a_refused_request_is_not_asked_again():
    calls = []

    async def request():
        calls.append(1)
        raise BadRequestError(code=400, err_code=10005, description="no suitable peers")

    with pytest.raises(BadRequestError):
        await until_answered(request)
    assert len(calls) == 1
