"""The oldest waiting message's age (``GET /v1/queue/stats``) when numbers stop sending.

A message waiting for a number counts as waiting: for the recruiter it is not going out. When a
number is paused, the messages it had claimed go back in line; they keep the time they fell due,
so their age goes on counting instead of starting again from the pause.
"""

from uuid import uuid4

from dispatcher_harness import dispatcher, evolution_sender, message, phone, request, simulator

from disparo_shared.testing.fixtures import eventually


async def test_messages_a_paused_number_had_claimed_keep_their_age(kernel_settings, db):
    campaign = uuid4()
    async with simulator() as sim:
        # One send a second and 10 s claimed ahead: most messages sit in the number's buffer.
        slow = evolution_sender(sim, "sim-1", rate_per_second=1)
        async with dispatcher(
            kernel_settings, [slow], claim_lookahead_seconds=10.0, message_lease_seconds=20.0
        ) as client:
            await request(
                kernel_settings.nats, *(message(phone(i), campaign_id=campaign) for i in range(12))
            )

            async def claimed():
                n = await db.fetchval(
                    "SELECT count(*) FROM dispatcher.all_messages WHERE state = 'sending'"
                )
                return n >= 8

            await eventually(claimed, timeout=10)
            due_rows = await db.fetch("SELECT message_id, due_at FROM dispatcher.all_messages")
            due_before = dict(due_rows)
            paused = await client.patch("/v1/senders/sim-1", json={"status": "paused"})
            assert paused.status_code == 200, paused.text

            async def back_in_line():
                rows = await db.fetch(
                    "SELECT message_id, due_at FROM dispatcher.all_messages WHERE state = 'queued'"
                )
                return rows if len(rows) >= 8 else None

            rows = await eventually(back_in_line, timeout=15)
            assert {r["message_id"]: r["due_at"] for r in rows} == {
                r["message_id"]: due_before[r["message_id"]] for r in rows
            }  # the time each fell due is kept: the pause does not make them young again

            async def aged():
                stats = (await client.get("/v1/queue/stats")).json()
                return stats if (stats["oldest_waiting_seconds_max"] or 0) >= 1 else None

            stats = await eventually(aged, timeout=15)  # waiting for a number counts
            assert stats["totals"]["queued"] >= 8
    assert sim.stats()["accepted"] <= 4
