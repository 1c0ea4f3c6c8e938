"""Several replicas on one database, and the limits they hold together, counted at the simulator."""

from datetime import UTC, datetime, timedelta

from dispatcher_harness import (
    dispatcher,
    evolution_sender,
    message,
    phone,
    request,
    simulator,
    states,
)

from disparo_shared.testing.fixtures import eventually


async def _owners(db) -> set[str]:
    rows = await db.fetch(
        "SELECT lease_owner FROM dispatcher.senders WHERE lease_owner IS NOT NULL"
    )
    return {r["lease_owner"] for r in rows}


async def test_two_replicas_share_the_senders_and_send_each_message_once(kernel_settings, db):
    async with simulator() as sim:
        seeds = [evolution_sender(sim, f"sim-{i}") for i in range(4)]
        async with dispatcher(kernel_settings, seeds), dispatcher(kernel_settings, seeds):

            async def both_hold_senders():
                return len(await _owners(db)) == 2

            await eventually(both_hold_senders)
            await request(kernel_settings.nats, *(message(phone(i)) for i in range(300)))

            async def all_sent():
                return (await states(db)).get("sent") == 300

            await eventually(all_sent, timeout=20)
            holders = await db.fetch(
                "SELECT lease_owner, count(*) FROM dispatcher.senders GROUP BY 1"
            )
    assert sorted(r["count"] for r in holders) == [2, 2]  # a fair share each
    stats = sim.stats()
    assert stats["accepted"] == 300 and stats["duplicates"] == 0 and stats["violations"] == 0
    assert len(stats["by_sender"]) == 4  # no sender idled


async def test_a_sender_never_exceeds_its_rate_at_the_provider(kernel_settings, db):
    async with simulator(rate_per_second=20, latency_ms=(0, 30)) as sim:
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "sim-1", rate_per_second=20)]
        ):
            await request(kernel_settings.nats, *(message(phone(i)) for i in range(70)))

            async def all_sent():
                return (await states(db)).get("sent") == 70

            await eventually(all_sent, timeout=20)
    stats = sim.stats()
    assert stats["throttled"] == 0 and stats["violations"] == 0
    assert stats["by_sender"]["sim-1"]["max_per_second"] <= 20
    assert stats["by_sender"]["sim-1"]["max_per_second"] >= 15  # and it does use its rate


async def test_messages_and_senders_of_a_dead_replica_are_taken_over(kernel_settings, db):
    async with simulator() as sim:
        seed = evolution_sender(sim, "sim-1")
        # A replica that died holding the sender and one message it had claimed (attempt 1
        # spent) but not sent: no echo ever comes, the simulator's search (Evolution's
        # findMessages) says it never took it, so it is sent again.
        async with dispatcher(kernel_settings, [seed], claim_interval_seconds=3600.0):
            await request(kernel_settings.nats, message(phone(1)))

            async def stored():
                return (await states(db)).get("queued") == 1

            await eventually(stored)
        now = datetime.now(UTC)
        await db.execute(
            "UPDATE dispatcher.messages SET state = 'sending', attempt = 1, lease_owner = 'ghost',"
            " lease_until = $1, claimed_at = $2",
            now + timedelta(seconds=1),
            now,
        )
        await db.execute(
            "UPDATE dispatcher.senders SET lease_owner = 'ghost', lease_until = $1",
            now + timedelta(seconds=1),
        )
        async with dispatcher(kernel_settings, [seed]):

            async def sent():
                return (await states(db)).get("sent") == 1

            # Lease expiry, reclaim, in-doubt grace and the sender takeover add up to several
            # seconds; a loaded machine stretches them.
            await eventually(sent, timeout=30)
        row = await db.fetchrow("SELECT attempt, lease_owner FROM dispatcher.all_messages")
    assert row["attempt"] == 2 and row["lease_owner"] is None
    assert sim.stats()["accepted"] == 1
    assert sim.stats()["lookups"] >= 1
