"""Each failure class through the real simulator's Cloud dialect, and what the queue makes of it."""

from datetime import UTC, datetime, timedelta

from dispatcher_harness import (
    TEMPLATE,
    cloud_sender,
    collect,
    dispatcher,
    doctors_wrote,
    evolution_sender,
    message,
    phone,
    request,
    simulator,
    states,
)

from disparo_shared.testing.fixtures import eventually


def digits(e164: str) -> str:
    return e164.lstrip("+")


async def _row(db, message_id):
    return await db.fetchrow(
        "SELECT * FROM dispatcher.all_messages WHERE message_id = $1", message_id
    )


async def test_permanent_template_and_opted_out_answers_end_the_message_at_once(
    kernel_settings, db
):
    ok, gone, window, stopped = phone(1), phone(2), phone(3), phone(4)
    faults = dict(
        permanent_numbers=[digits(gone)],
        template_required_numbers=[digits(window)],
        opted_out_numbers=[digits(stopped)],
    )
    async with (
        simulator(**faults) as sim,
        collect(kernel_settings.nats, "contact.opted_out") as opt_outs,
    ):
        # Every doctor wrote to the number (free text may go); ``window``'s closed at Meta before
        # the send (131047): with no template to fall back on, that message is held, not dead.
        await doctors_wrote(db, "cloud-1", ok, gone, window, stopped)
        async with dispatcher(kernel_settings, [cloud_sender(sim, "cloud-1", "100000000000011")]):
            later = datetime.now(UTC) + timedelta(hours=1)
            msgs = {p: message(p) for p in (ok, gone, window, stopped)}
            pending_for_stopped = message(stopped, not_before=later)
            await request(kernel_settings.nats, *msgs.values(), pending_for_stopped)

            async def settled():
                s = await states(db)
                return (
                    s.get("sent") == 1
                    and s.get("dead") == 2
                    and s.get("held") == 1
                    and s.get("cancelled") == 1
                    and opt_outs
                )

            await eventually(settled)
        codes = {p: (await _row(db, m.message_id))["last_error_code"] for p, m in msgs.items()}
        assert codes[gone] == "131026" and codes[stopped] == "131050"
        assert codes[window] == "needs_template"
        assert [(await _row(db, m.message_id))["attempt"] for m in msgs.values()] == [1, 1, 0, 1]
        closed = await db.fetchval(
            "SELECT count(*) FROM dispatcher.conversation_windows WHERE phone = $1", window
        )
        assert closed == 0  # Meta said the window is closed: ours is forgotten
        opted = await db.fetchval(
            "SELECT opted_out_at FROM dispatcher.recipients WHERE phone = $1", stopped
        )
        assert opted is not None
    assert opt_outs[0]["phone"] == stopped and opt_outs[0]["reason"] == "provider_131050"


async def test_transient_failures_are_retried_until_sent_or_dead(kernel_settings, db):
    async with (
        simulator(error_5xx_rate=0.4) as sim,
        collect(kernel_settings.nats, "message.failed") as failed,
    ):
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]):
            msgs = [message(phone(i), max_attempts=20) for i in range(30)]
            await request(kernel_settings.nats, *msgs)

            async def all_sent():
                return (await states(db)).get("sent") == 30

            await eventually(all_sent, timeout=20)
            sim.provider.change_faults({"error_5xx_rate": 1.0})
            doomed = message(phone(99), max_attempts=3)
            await request(kernel_settings.nats, doomed)

            async def dead():
                return (await _row(db, doomed.message_id) or {}).get("state") == "dead"

            await eventually(dead)
            await eventually(lambda: _has_final(failed, doomed.message_id))
        retried = await db.fetchval(
            "SELECT count(*) FROM dispatcher.all_messages WHERE attempt > 1 AND state = 'sent'"
        )
        assert retried > 0
        row = await _row(db, doomed.message_id)
        assert row["attempt"] == 3 and row["last_error_code"] == "http_500"
    assert sim.stats()["duplicates"] == 0
    assert any(f["retryable"] and f["next_attempt_at"] for f in failed)


async def _has_final(failed, message_id) -> bool:
    return any(f["message_id"] == str(message_id) and f["final"] for f in failed)


async def test_a_spam_flagged_sender_is_paused_and_its_queue_moves_on(kernel_settings, db):
    async with simulator(spam_senders=["100000000000011"]) as sim:
        seeds = [
            cloud_sender(sim, "flagged", "100000000000011"),
            cloud_sender(sim, "healthy", "100000000000022"),
        ]
        async with dispatcher(kernel_settings, seeds):
            # Doctors who never wrote: templates, whichever number takes them.
            await request(
                kernel_settings.nats,
                *(message(phone(i), template=TEMPLATE) for i in range(40)),
            )

            async def all_sent():
                return (await states(db)).get("sent") == 40

            await eventually(all_sent, timeout=20)
        sender = await db.fetchrow("SELECT * FROM dispatcher.senders WHERE sender_id = 'flagged'")
        assert sender["status"] == "paused" and sender["paused_until"] is not None
        assert sender["pause_reason"].startswith("131048")
        rows = await db.fetch("SELECT sender_id, attempt FROM dispatcher.all_messages")
    assert {r["sender_id"] for r in rows} == {"healthy"}
    assert {r["attempt"] for r in rows} == {1}  # moving to another number cost no attempt
    assert sim.stats()["by_sender"]["100000000000022"]["accepted"] == 40


async def test_a_pair_rate_limit_waits_for_the_recipient_without_spending_an_attempt(
    kernel_settings, db
):
    # The provider's pair spacing is longer than ours: it answers 131056, and the queue waits.
    async with simulator(pair_spacing_seconds=3.0) as sim:
        async with dispatcher(
            kernel_settings,
            [cloud_sender(sim, "cloud-1", "100000000000011")],
            pair_spacing_seconds=0.05,
        ):
            same = phone(7)
            await doctors_wrote(db, "cloud-1", same)
            await request(kernel_settings.nats, message(same, "primeira"), message(same, "segunda"))

            async def both_sent():
                return (await states(db)).get("sent") == 2

            await eventually(both_sent)
        rows = await db.fetch("SELECT attempt FROM dispatcher.all_messages")
        attempts = [r["attempt"] for r in rows]
    assert attempts == [1, 1]
    assert sim.stats()["pair_limited"] >= 1 and sim.stats()["accepted"] == 2
