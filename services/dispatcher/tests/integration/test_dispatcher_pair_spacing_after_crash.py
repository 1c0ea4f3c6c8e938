"""Pair spacing holds across replicas: a send another replica still holds in flight (it died or
froze mid-call) counts as sent up to its lease's end, and a doubt the provider's search settles
as sent counts from when the doubt began, so a reply to the same doctor waits for the pair.

Found by ``disparo chaos``: after a ``kill -9`` of a replica, the doctor answered the campaign
message that replica had just sent, and the recruiter's reply went out through the same number
a second later — the provider refused it for the pair limit (a 429 that counts against the
number), because nothing in the database said a message to that doctor had just gone.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
from dispatcher_harness import (
    EVOLUTION_KEY,
    dispatcher,
    evolution_sender,
    message,
    phone,
    request,
    simulator,
)

from disparo_shared.testing.fixtures import eventually

SPACING = 2.0


async def test_a_reply_waits_for_the_pair_after_a_send_a_dead_replica_left_in_flight(
    kernel_settings, db
):
    doctor = phone(41)
    async with simulator(pair_spacing_seconds=SPACING) as sim:
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "evo-1")], pair_spacing_seconds=SPACING
        ):
            # A replica that died mid-call: the provider took its campaign message to the
            # doctor, and the message is still 'sending' under its lease, which ends in 2 s.
            body = "Olá! Temos plantões."
            async with httpx.AsyncClient(base_url=sim.url) as provider:
                taken = await provider.post(
                    "/message/sendText/evo-1",
                    json={"number": doctor.lstrip("+"), "text": body},
                    headers={"apikey": EVOLUTION_KEY},
                )
                assert taken.status_code == 201, taken.text
            now = datetime.now(UTC)
            lease_until = now + timedelta(seconds=2)
            dead_send = uuid4()
            await db.execute(
                "INSERT INTO dispatcher.messages (message_id, idempotency_key, phone, kind, body,"
                " priority, time_zone, state, due_at, rank_at, attempt, max_attempts, sender_id,"
                " lease_owner, lease_until, claimed_at, requested_at, enqueued_at)"
                " VALUES ($1, $2, $3, 'campaign', $4, 5, 'America/Sao_Paulo', 'sending', $5, $5,"
                " 1, 5, 'evo-1', 'dead-replica', $6, $5, $5, $5)",
                dead_send,
                f"test:{dead_send}",
                doctor,
                body,
                now - timedelta(seconds=1),
                lease_until,
            )
            reply = message(doctor, "Que bom! Posso reservar?", kind="reply", priority=8)
            await request(kernel_settings.nats, reply)

            async def reply_sent():
                return [s for s in sim.sends() if s.message_id == str(reply.message_id)]

            [sent] = await eventually(reply_sent, timeout=30)
            state = await db.fetchval(
                "SELECT state FROM dispatcher.all_messages WHERE message_id = $1", dead_send
            )
    assert state == "sent"  # the provider's search found the dead replica's send: not resent
    # The reply waited out the send in flight, then the pair's gap: the provider refused nothing.
    assert sent.accepted_at >= lease_until.timestamp()
    assert sim.stats()["pair_limited"] == 0
    assert sim.stats()["accepted"] == 2
