"""The send queue end to end: NATS request → Postgres → the real simulator over HTTP → events."""

import asyncio

from dispatcher_harness import (
    collect,
    collect_sent,
    dispatcher,
    evolution_sender,
    message,
    phone,
    publish,
    request,
    simulator,
    states,
)

from disparo_shared.events import SentMessage
from disparo_shared.testing.fixtures import eventually


async def test_requested_messages_are_persisted_and_sent_once(kernel_settings, db):
    async with simulator() as sim, collect_sent(kernel_settings.nats) as sent_events:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]):
            msgs = [message(phone(i)) for i in range(5)]
            await request(kernel_settings.nats, *msgs)

            async def all_sent():
                return (await states(db)).get("sent") == 5 and len(sent_events) == 5

            await eventually(all_sent)
    assert sim.stats()["accepted"] == 5
    assert sim.stats()["duplicates"] == 0
    assert {e["message_id"] for e in sent_events} == {str(m.message_id) for m in msgs}
    row = await db.fetchrow(
        "SELECT * FROM dispatcher.all_messages WHERE message_id = $1", msgs[0].message_id
    )
    assert row["attempt"] == 1 and row["provider_message_id"] and row["sender_id"] == "sim-1"
    # message.sent is written straight from the sends (``Event.serialized``): each send must
    # read back as the model, saying what its row says.
    [told] = [
        SentMessage.model_validate(e)
        for e in sent_events
        if e["message_id"] == str(row["message_id"])
    ]
    assert (told.provider_message_id, told.sender, told.attempt) == (
        row["provider_message_id"],
        "sim-1",
        1,
    )
    assert (told.kind, told.campaign_id, told.contact_id) == ("campaign", None, None)
    assert told.sent_at == row["sent_at"]


async def test_repeated_requests_and_redeliveries_send_nothing_twice(kernel_settings, db):
    dropped_before = _dropped()
    async with (
        simulator() as sim,
        collect(kernel_settings.nats, "message.failed") as failed_events,
    ):
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]):
            first = message(phone(1))
            same_key = message(phone(2), idempotency_key="same-key")
            event = await request(kernel_settings.nats, first, same_key)
            # The same event again (redelivery), the same message in a new event, and a new
            # message id reusing an idempotency key: none of them adds a row or a send.
            await publish(kernel_settings.nats, event)
            # Requests are persisted by concurrent workers, in no promised order: a key goes to
            # whichever request is persisted first, so the reuse is made once the first is in.
            in_queue = "SELECT count(*) = 2 FROM dispatcher.all_messages"
            await eventually(lambda: db.fetchval(in_queue))
            taken = message(phone(3), idempotency_key="same-key")
            await request(kernel_settings.nats, first, taken)
            await eventually(lambda: _count_sent(db, 2))
            # The message whose key was taken is not silently dropped: it fails, visibly.
            await eventually(lambda: _has(failed_events, taken.message_id))
            await asyncio.sleep(0.3)  # let any duplicate that slipped through surface
    assert await db.fetchval("SELECT count(*) FROM dispatcher.all_messages") == 2
    assert sim.stats()["accepted"] == 2 and sim.stats()["duplicates"] == 0
    [dropped] = [e for e in failed_events if e["message_id"] == str(taken.message_id)]
    assert dropped["error_code"] == "idempotency_key_taken" and dropped["final"] is True
    assert _dropped() == dropped_before + 1
    assert not [e for e in failed_events if e["message_id"] == str(first.message_id)]


def _dropped() -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(
        "disparo_dispatcher_requests_dropped_total", {"reason": "idempotency_key_taken"}
    )
    return value or 0.0


async def _has(events: list, message_id) -> bool:
    return any(e["message_id"] == str(message_id) for e in events)


async def _count_sent(db, n: int) -> bool:
    return (await states(db)).get("sent") == n
