"""Follow-ups stop when their conversation moves on: a reply, an opt-out, a takeover, a closing.

Real Postgres and NATS, the dispatcher served over HTTP, the simulator over HTTP posting the
doctor's reply to the dispatcher's webhook, as in production.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import httpx
from dispatcher_harness import (
    Simulator,
    collect,
    evolution_sender,
    message,
    phone,
    publish,
    request,
    served_dispatcher,
    simulator,
)

from disparo_shared.events import (
    Controller,
    ConversationControlChanged,
    ConversationStage,
    ConversationStageChanged,
    subjects,
)
from disparo_shared.testing.fixtures import eventually

SENDER = "sim-1"


@asynccontextmanager
async def stack(kernel_settings, **overrides) -> AsyncIterator[Simulator]:
    """The simulator and one dispatcher, each posting to the other over HTTP."""
    async with simulator(pair_spacing_seconds=0) as sim:
        async with served_dispatcher(
            kernel_settings,
            [evolution_sender(sim, SENDER, rate_per_second=50)],
            pair_spacing_seconds=0,
            **overrides,
        ) as url:
            async with httpx.AsyncClient(base_url=sim.url) as client:
                answer = await client.put(
                    "/_sim/config", json={"evolution_webhook_url": f"{url}/webhooks/evolution"}
                )
                answer.raise_for_status()
            yield sim


async def doctor_replies(sim: Simulator, doctor: str, text: str = "Oi, tenho interesse") -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.post(
            "/_sim/inbound",
            json={"dialect": "evolution", "sender": SENDER, "from": doctor, "text": text},
        )
        assert answer.status_code == 200, answer.text


async def row(db, message_id: UUID):
    return await db.fetchrow(
        "SELECT state, last_error_code, send_confirmed_at, lease_owner"
        " FROM dispatcher.all_messages WHERE message_id = $1",
        message_id,
    )


def sends_to(sim: Simulator, message_id: UUID) -> list:
    return [s for s in sim.sends() if str(s.message_id) == str(message_id)]


async def sent_first(kernel_settings, db, sim: Simulator, doctor: str, conversation: UUID) -> None:
    """The campaign message the follow-up follows, sent and recorded."""
    first = message(doctor, conversation_id=conversation, kind="campaign")
    await request(kernel_settings.nats, first)

    async def sent() -> bool:
        found = await row(db, first.message_id)
        return found is not None and found["state"] == "sent"

    await eventually(sent, timeout=20)


async def test_a_reply_while_a_followup_is_claimed_but_not_sent_stops_it(kernel_settings, db):
    """The race: the follow-up is claimed (in its sender's buffer, waiting for room) when the
    doctor's reply arrives; it never reaches the provider, and reports hear why."""
    doctor, other, conversation = phone(801), phone(802), uuid4()
    # One call in flight at a time, and every send held by the provider for a while: a
    # follow-up claimed behind a slow call waits in the buffer, claimed and not yet confirmed.
    async with stack(
        kernel_settings,
        max_in_flight=1,
        urgent_in_flight_reserve=0,
        claim_lookahead_seconds=5.0,
        provider_timeout_seconds=20.0,
        message_lease_seconds=60.0,
    ) as sim:
        await sent_first(kernel_settings, db, sim, doctor, conversation)
        async with httpx.AsyncClient(base_url=sim.url) as client:
            held = await client.put("/_sim/faults", json={"latency_ms": [8000, 8000]})
            held.raise_for_status()
        async with collect(kernel_settings.nats, subjects.MESSAGE_CANCELLED) as cancelled:
            blocker = message(other, priority=9, kind="reply")
            followup = message(doctor, kind="followup", priority=4, conversation_id=conversation)
            await request(kernel_settings.nats, blocker, followup)

            async def claimed_not_confirmed() -> bool:
                found = await row(db, followup.message_id)
                blocker_row = await row(db, blocker.message_id)
                return (
                    found is not None
                    and found["state"] == "sending"
                    and found["send_confirmed_at"] is None
                    and blocker_row is not None
                    and blocker_row["state"] == "sending"
                )

            await eventually(claimed_not_confirmed, timeout=20)
            await doctor_replies(sim, doctor)

            async def cancelled_for_the_reply() -> bool:
                found = await row(db, followup.message_id)
                return found["state"] == "cancelled" and found["last_error_code"] == "replied"

            await eventually(cancelled_for_the_reply, timeout=20)
            # the blocker's call ends; the driver takes the follow-up from its buffer and drops it
            await eventually(lambda: _sent(db, blocker.message_id), timeout=30)
            await eventually(lambda: _at_least(cancelled, 1), timeout=10)
        assert sends_to(sim, followup.message_id) == []
        assert (await row(db, followup.message_id))["state"] == "cancelled"
        [event] = cancelled
        assert event["message_id"] == str(followup.message_id)
        assert event["reason"] == "replied"
        assert event["conversation_id"] == str(conversation)


async def _sent(db, message_id: UUID) -> bool:
    found = await row(db, message_id)
    return found is not None and found["state"] == "sent"


async def test_a_followup_requested_after_the_reply_is_stopped_at_its_confirmation(
    kernel_settings, db
):
    """The follow-up job had not heard of the reply yet: the dispatcher has, and says no."""
    doctor, conversation = phone(811), uuid4()
    async with stack(kernel_settings) as sim:
        await sent_first(kernel_settings, db, sim, doctor, conversation)
        await doctor_replies(sim, doctor)

        async def reply_recorded() -> bool:
            return (
                await db.fetchval(
                    "SELECT last_inbound_at FROM dispatcher.recipients WHERE phone = $1", doctor
                )
                is not None
            )

        await eventually(reply_recorded, timeout=20)
        followup = message(doctor, kind="followup", priority=4, conversation_id=conversation)
        await request(kernel_settings.nats, followup)

        async def stopped() -> bool:
            found = await row(db, followup.message_id)
            return found is not None and found["state"] == "cancelled"

        await eventually(stopped, timeout=20)
        assert (await row(db, followup.message_id))["last_error_code"] == "replied"
        # we write again (a recruiter's reply): the doctor no longer has the last word
        answer = message(doctor, kind="reply", priority=8, conversation_id=conversation)
        await request(kernel_settings.nats, answer)
        await eventually(lambda: _sent(db, answer.message_id), timeout=20)
        later = message(doctor, kind="followup", priority=4, conversation_id=conversation)
        await request(kernel_settings.nats, later)
        await eventually(lambda: _sent(db, later.message_id), timeout=20)
        assert len(sends_to(sim, later.message_id)) == 1
        assert sends_to(sim, followup.message_id) == []


async def test_a_takeover_or_a_closing_cancels_queued_followups_and_a_release_allows_new_ones(
    kernel_settings, db
):
    taken, closed = uuid4(), uuid4()
    doctor_a, doctor_b = phone(821), phone(822)
    async with stack(kernel_settings) as sim:
        await sent_first(kernel_settings, db, sim, doctor_a, taken)
        await sent_first(kernel_settings, db, sim, doctor_b, closed)
        later = {"not_before": "2099-01-01T10:00:00+00:00"}  # queued, not due
        queued_a = message(doctor_a, kind="followup", conversation_id=taken, **later)
        queued_b = message(doctor_b, kind="followup", conversation_id=closed, **later)
        await request(kernel_settings.nats, queued_a, queued_b)
        await eventually(lambda: _in_state(db, queued_a.message_id, "queued"), timeout=20)
        await eventually(lambda: _in_state(db, queued_b.message_id, "queued"), timeout=20)
        async with collect(kernel_settings.nats, subjects.MESSAGE_CANCELLED) as cancelled:
            await publish(
                kernel_settings.nats,
                ConversationControlChanged(
                    conversation_id=taken,
                    controlled_by=Controller.HUMAN,
                    stopped=True,
                    by="ana.recrutadora",
                ),
                ConversationStageChanged(
                    conversation_id=closed,
                    contact_id=uuid4(),
                    stage=ConversationStage.ENCERRADA,
                    controlled_by=Controller.AUTOMATION,
                ),
            )
            await eventually(lambda: _at_least(cancelled, 2), timeout=20)
        reasons = {event["message_id"]: event["reason"] for event in cancelled}
        assert reasons == {
            str(queued_a.message_id): "taken_over",
            str(queued_b.message_id): "closed",
        }
        # released: automation may write again
        await publish(
            kernel_settings.nats,
            ConversationControlChanged(
                conversation_id=taken,
                controlled_by=Controller.AUTOMATION,
                stopped=False,
                by="ana.recrutadora",
            ),
        )

        async def released() -> bool:
            return (
                await db.fetchval(
                    "SELECT stopped FROM dispatcher.conversation_controls"
                    " WHERE conversation_id = $1",
                    taken,
                )
                is False
            )

        await eventually(released, timeout=20)
        again = message(doctor_a, kind="followup", conversation_id=taken)
        await request(kernel_settings.nats, again)
        await eventually(lambda: _sent(db, again.message_id), timeout=20)
        await asyncio.sleep(0)
    assert sends_to(sim, queued_a.message_id) == sends_to(sim, queued_b.message_id) == []


async def _in_state(db, message_id: UUID, state: str) -> bool:
    found = await row(db, message_id)
    return found is not None and found["state"] == state


async def _at_least(items: list, n: int) -> bool:
    return len(items) >= n
