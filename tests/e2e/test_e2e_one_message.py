"""One message through the real processes: accepted, sent once by the simulator, reported sent —
also when the request repeats, when the dispatcher is killed, and when an outbox relay dies
between publishing and deleting (the event is published again)."""

import json
import uuid

import asyncpg
import nats
import pytest

from disparo_shared.events.subjects import MESSAGE_SENT, MESSAGES_REQUESTED_SUBJECTS
from disparo_shared.outbox import NOTIFY_CHANNEL
from disparo_shared.streams import qualified, stream_name
from disparo_shared.testing.fixtures import eventually

pytestmark = pytest.mark.e2e

BODY = "Olá, Dra. Ana! Temos um plantão de anestesia amanhã no ABC. Podemos conversar?"


def new_key() -> str:
    return str(uuid.uuid4())


async def assert_no_duplicate_anywhere(stack) -> None:
    assert (await stack.sim_stats())["duplicates"] == 0


async def accepted_message_id(stack, phone: str, key: str) -> str:
    answer = await stack.post_message(phone, BODY, key)
    assert answer.status_code == 202, answer.text
    return answer.json()["message_id"]


async def stream_events(stack, stream: str, *subjects: str) -> list:
    """Every message of ``subjects`` in the stack's ``stream``, oldest first."""
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        name = stream_name(stack.stream_prefix, stream)
        state = (await js.stream_info(name)).state
        if state.messages == 0:
            return []
        found = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(name, seq)
            except nats.js.errors.NotFoundError:
                continue
            if msg.subject in {qualified(stack.stream_prefix, s) for s in subjects}:
                found.append(msg)
        return found
    finally:
        await nc.close()


async def requested_event_of(stack, message_id: str):
    for msg in await stream_events(stack, "COMMANDS", *MESSAGES_REQUESTED_SUBJECTS):
        payload = json.loads(msg.data)
        if any(m["message_id"] == message_id for m in payload["messages"]):
            return msg
    raise AssertionError(f"no messages.requested for {message_id} in the stream")


async def sent_event_of(stack, message_id: str):
    for msg in await stream_events(stack, "MESSAGES", MESSAGE_SENT):
        payload = json.loads(msg.data)
        if any(m["message_id"] == message_id for m in payload["messages"]):
            return msg
    raise AssertionError(f"no message.sent for {message_id} in the stream")


async def test_a_posted_message_is_sent_once_and_reported_sent(stack, phone):
    message_id = await accepted_message_id(stack, phone, new_key())

    await stack.wait_sent(message_id)
    await stack.settle()

    (send,) = await stack.sends_of(message_id)
    assert send["recipient"].lstrip("+") == phone.lstrip("+")
    assert send["body"] == BODY
    assert "sent" in await stack.reported_statuses(message_id)
    await assert_no_duplicate_anywhere(stack)


async def test_the_same_idempotency_key_twice_is_one_message_sent_once(stack, phone):
    key = new_key()
    first = await stack.post_message(phone, BODY, key)
    second = await stack.post_message(phone, BODY, key)

    assert first.status_code == second.status_code == 202
    message_id = first.json()["message_id"]
    assert second.json()["message_id"] == message_id
    await stack.wait_sent(message_id)
    await stack.settle()
    assert len(await stack.sends_of(message_id)) == 1
    sends = (await stack.simulator.get("/_sim/sends")).json()
    assert [s["message_id"] for s in sends if s["recipient"].lstrip("+") == phone[1:]] == [
        message_id
    ]
    await assert_no_duplicate_anywhere(stack)


async def test_a_request_accepted_while_the_dispatcher_is_dead_is_sent_once_after_restart(
    stack, phone
):
    stack.kill9("dispatcher")
    try:
        message_id = await accepted_message_id(stack, phone, new_key())
        await stack.settle(1.0)
        assert await stack.sends_of(message_id) == []
    finally:
        stack.start("dispatcher")

    await stack.wait_sent(message_id)
    await stack.settle()
    assert len(await stack.sends_of(message_id)) == 1
    await assert_no_duplicate_anywhere(stack)


async def test_dispatcher_killed_while_the_message_waits_in_its_queue_sends_it_once(stack, phone):
    await stack.simulator.put("/_sim/faults", json={"error_5xx_rate": 1.0})
    try:
        errors_before = (await stack.sim_stats())["errors_5xx"]
        message_id = await accepted_message_id(stack, phone, new_key())

        async def a_send_was_refused():
            return (await stack.sim_stats())["errors_5xx"] > errors_before

        await eventually(a_send_was_refused, timeout=30)
        stack.kill9("dispatcher")  # the message is in its queue, waiting to retry
    finally:
        await stack.simulator.delete("/_sim/faults")
    stack.start("dispatcher")

    await stack.wait_sent(message_id, within_seconds=40)
    await stack.settle()
    assert len(await stack.sends_of(message_id)) == 1
    await assert_no_duplicate_anywhere(stack)


async def test_campaign_api_killed_right_after_accepting_sends_the_message_once(stack, phone):
    message_id = await accepted_message_id(stack, phone, new_key())
    stack.kill9("campaign-api")  # its relay may or may not have published the request
    stack.start("campaign-api")

    await stack.wait_sent(message_id)
    await stack.settle()
    assert len(await stack.sends_of(message_id)) == 1
    await assert_no_duplicate_anywhere(stack)


async def test_outbox_relay_dying_between_publish_and_delete_sends_once(stack, phone):
    message_id = await accepted_message_id(stack, phone, new_key())
    await stack.wait_sent(message_id)
    published = await requested_event_of(stack, message_id)
    requests_before = len(await stream_events(stack, "COMMANDS", *MESSAGES_REQUESTED_SUBJECTS))

    # The row the relay would still hold had it died before its DELETE committed.
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            "INSERT INTO campaign_api.outbox (event_id, subject, payload, headers)"
            " VALUES ($1::uuid, $2, $3::jsonb, '{}'::jsonb)",
            published.headers["Nats-Msg-Id"],
            published.subject.removeprefix(stack.stream_prefix),
            published.data.decode(),
        )
        await conn.execute("SELECT pg_notify($1, 'campaign_api')", NOTIFY_CHANNEL)

        async def relay_published_it_again():
            return await conn.fetchval("SELECT count(*) FROM campaign_api.outbox") == 0

        await eventually(relay_published_it_again, timeout=15)
    finally:
        await conn.close()

    await stack.settle()
    assert (
        len(await stream_events(stack, "COMMANDS", *MESSAGES_REQUESTED_SUBJECTS)) == requests_before
    )
    assert len(await stack.sends_of(message_id)) == 1
    await assert_no_duplicate_anywhere(stack)


async def test_events_republished_after_the_duplicate_window_change_nothing(stack, phone):
    """Past the stream's duplicate window a republished event reaches consumers again; the
    dispatcher (by message id) and reporting (by event id) must ignore it."""
    message_id = await accepted_message_id(stack, phone, new_key())
    await stack.wait_sent(message_id)
    requested = await requested_event_of(stack, message_id)
    sent = await sent_event_of(stack, message_id)
    await eventually(lambda: _history_has_one_sent(stack, message_id), timeout=15)

    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        for original in (requested, sent):
            # A new Nats-Msg-Id is what the stream sees once it has forgotten the first one.
            headers = {**(original.headers or {}), "Nats-Msg-Id": f"replay-{uuid.uuid4()}"}
            await js.publish(original.subject, original.data, headers=headers)
    finally:
        await nc.close()

    await stack.settle(3.0)
    assert len(await stack.sends_of(message_id)) == 1
    assert await _history_has_one_sent(stack, message_id)
    await assert_no_duplicate_anywhere(stack)


async def _history_has_one_sent(stack, message_id: str) -> bool:
    return (await stack.reported_statuses(message_id)).count("sent") == 1
