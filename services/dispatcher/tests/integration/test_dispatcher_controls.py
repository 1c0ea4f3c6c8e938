"""Campaign and consent controls, urgency, daily limits and the admin API, on the running queue."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from dispatcher_harness import (
    collect_sent,
    dispatcher,
    evolution_sender,
    message,
    phone,
    publish,
    request,
    simulator,
)

from disparo_shared.events import (
    CampaignCancelled,
    CampaignPaused,
    CampaignResumed,
    CampaignSendWindow,
    CampaignStarted,
    ContactOptedOut,
)
from disparo_shared.testing.fixtures import eventually


async def _count(db, state: str, campaign_id=None) -> int:
    if campaign_id is None:
        return await db.fetchval(
            "SELECT count(*) FROM dispatcher.all_messages WHERE state = $1", state
        )
    return await db.fetchval(
        "SELECT count(*) FROM dispatcher.all_messages WHERE state = $1 AND campaign_id = $2",
        state,
        campaign_id,
    )


async def test_a_paused_campaign_stops_within_a_second_and_resumes(kernel_settings, db):
    campaign = uuid4()
    async with simulator() as sim:
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "sim-1", rate_per_second=10)]
        ):
            await request(
                kernel_settings.nats, *(message(phone(i), campaign_id=campaign) for i in range(25))
            )
            await eventually(lambda: _at_least(db, "sent", 3))
            await publish(kernel_settings.nats, CampaignPaused(campaign_id=campaign))

            async def stopped():
                return await _count(db, "held") > 0 and await _count(db, "sending") == 0

            await eventually(stopped, timeout=3)
            sent_when_paused = await _count(db, "sent")
            await asyncio.sleep(0.5)
            assert await _count(db, "sent") == sent_when_paused < 25
            await publish(kernel_settings.nats, CampaignResumed(campaign_id=campaign))
            await eventually(lambda: _at_least(db, "sent", 25), timeout=10)
    assert sim.stats()["accepted"] == 25 and sim.stats()["duplicates"] == 0


async def _at_least(db, state: str, n: int) -> bool:
    return await _count(db, state) >= n


async def test_cancel_and_opt_out_drop_pending_messages(kernel_settings, db):
    campaign, doctor = uuid4(), phone(500)
    later = datetime.now(UTC) + timedelta(hours=2)
    async with simulator() as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1", rate_per_second=5)]):
            await request(
                kernel_settings.nats,
                *(message(phone(i), campaign_id=campaign) for i in range(20)),
                message(doctor, kind="followup", not_before=later),
                message(doctor, kind="first_contact", not_before=later),
            )
            await eventually(lambda: _at_least(db, "sent", 1))
            await publish(
                kernel_settings.nats,
                CampaignCancelled(campaign_id=campaign),
                ContactOptedOut(phone=doctor, reason="replied_stop"),
            )

            async def dropped():
                cancelled = await _count(db, "cancelled")
                return (
                    cancelled >= 3
                    and await _count(db, "queued") == 0
                    and await _count(db, "sending") == 0
                )

            await eventually(dropped, timeout=5)
            sent = await _count(db, "sent")
            await asyncio.sleep(0.4)
            assert await _count(db, "sent") == sent < 20
            # The opt-out is remembered: a later request to that phone is not sent either.
            await request(kernel_settings.nats, message(doctor, kind="reply", priority=10))
            await eventually(lambda: _at_least(db, "cancelled", 23 - sent))
    assert sim.stats()["accepted"] == sent


async def test_an_urgent_reply_jumps_the_campaign_backlog(kernel_settings, db):
    async with simulator() as sim:
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "sim-1", rate_per_second=10)]
        ):
            await request(kernel_settings.nats, *(message(phone(i), priority=3) for i in range(60)))
            await eventually(lambda: _at_least(db, "sent", 5))
            reply = message(
                phone(999), kind="reply", priority=10, body="Claro, te envio os detalhes."
            )
            await request(kernel_settings.nats, reply)

            async def reply_sent():
                row = await db.fetchrow(
                    "SELECT state, sent_at - enqueued_at AS waited FROM dispatcher.all_messages"
                    " WHERE message_id = $1",
                    reply.message_id,
                )
                return row if row and row["state"] == "sent" else None

            row = await eventually(reply_sent, timeout=5)
            backlog = await _count(db, "queued")
    assert row["waited"] < timedelta(seconds=1)
    assert backlog > 20  # it did not wait for the backlog
    assert sim.stats()["duplicates"] == 0


async def test_a_sender_stops_at_its_daily_limit(kernel_settings, db):
    async with simulator() as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1", daily_limit=3)]):
            await request(kernel_settings.nats, *(message(phone(i)) for i in range(5)))
            await eventually(lambda: _at_least(db, "sent", 3))
            await asyncio.sleep(0.5)
            waiting = await _count(db, "queued")
    # The rest wait for tomorrow, unclaimed: a capped sender claims nothing more today.
    assert sim.stats()["accepted"] == 3 and waiting == 2


async def test_recipient_and_campaign_daily_caps_hold(kernel_settings, db):
    capped, other = uuid4(), uuid4()
    async with simulator() as sim:
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "sim-1")], recipient_campaign_max_per_day=1
        ) as client:
            response = await client.put(f"/v1/campaigns/{capped}/limits", json={"max_per_day": 2})
            assert response.status_code == 200, response.text
            await request(
                kernel_settings.nats,
                *(message(phone(i), campaign_id=capped) for i in range(4)),
                message(phone(100), campaign_id=other),
                message(phone(100), campaign_id=other, body="de novo"),
            )
            await eventually(lambda: _at_least(db, "sent", 3))

            async def the_rest_wait_for_tomorrow():
                # A refused message is claimed first and handed back: wait until all three are.
                return (
                    await db.fetchval(
                        "SELECT count(*) FROM dispatcher.all_messages"
                        " WHERE state = 'queued' AND due_at > now() + interval '1 minute'"
                    )
                    == 3
                )

            await eventually(the_rest_wait_for_tomorrow)
            assert await _count(db, "sent", capped) == 2
            assert await _count(db, "sent", other) == 1
            waiting = await db.fetch(
                "SELECT due_at, attempt, last_error_code, campaign_id = $1 AS capped"
                " FROM dispatcher.all_messages WHERE state = 'queued'",
                capped,
            )
    assert len(waiting) == 3, waiting
    assert all(
        r["due_at"] > datetime.now(UTC) + timedelta(minutes=1) and r["attempt"] == 0
        for r in waiting
    ), [dict(r) for r in waiting]
    assert sim.stats()["accepted"] == 3


async def test_a_started_campaign_brings_its_daily_cap_and_send_window(kernel_settings, db):
    capped, closed_today = uuid4(), uuid4()
    today = datetime.now(ZoneInfo("America/Sao_Paulo")).isoweekday()
    other_days = CampaignSendWindow(
        start_hour=0,
        end_hour=24,
        weekdays=[day for day in range(1, 8) if day != today],
        time_zone="America/Sao_Paulo",
    )
    async with simulator() as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]):
            await publish(
                kernel_settings.nats,
                CampaignStarted(campaign_id=capped, audience_size=4, max_per_day=2),
                CampaignStarted(campaign_id=closed_today, audience_size=2, send_window=other_days),
            )

            async def configured():
                return (
                    await db.fetchval(
                        "SELECT count(*) FROM dispatcher.campaigns"
                        " WHERE max_per_day = 2 OR window_weekdays IS NOT NULL"
                    )
                    == 2
                )

            await eventually(configured)
            await request(
                kernel_settings.nats,
                *(message(phone(i), campaign_id=capped) for i in range(4)),
                *(message(phone(10 + i), campaign_id=closed_today) for i in range(2)),
            )

            async def the_rest_wait_for_another_day():
                return (
                    await db.fetchval(
                        "SELECT count(*) FROM dispatcher.all_messages"
                        " WHERE state = 'queued' AND due_at > now() + interval '1 minute'"
                    )
                    == 4
                )

            await eventually(the_rest_wait_for_another_day)
            await eventually(lambda: _at_least(db, "sent", 2))
            await asyncio.sleep(0.5)  # nothing more goes out
            assert await _count(db, "sent", capped) == 2
            assert await _count(db, "sent", closed_today) == 0
    assert sim.stats()["accepted"] == 2


async def test_senders_are_managed_over_http(kernel_settings, db):
    async with simulator() as sim:
        async with dispatcher(kernel_settings, []) as client:
            seed = evolution_sender(sim, "api-1", daily_limit=500).model_dump(mode="json")
            literal = await client.post("/v1/senders", json=seed)  # a literal token: refused
            assert literal.status_code == 422 and "credential_ref" in literal.text
            seed = {**seed, "credential_ref": "env:SIM_EVOLUTION_KEY"}
            stolen = await client.post(
                "/v1/senders", json={**seed, "credential_ref": "env:DATABASE_URL"}
            )
            assert stolen.status_code == 422 and stolen.json()["errors"][0]["field"] == (
                "credential_ref"
            )
            elsewhere = await client.post(
                "/v1/senders", json={**seed, "base_url": "http://attacker.example.net"}
            )
            assert elsewhere.status_code == 422 and "base_url" in elsewhere.text
            created = await client.post("/v1/senders", json=seed)
            assert created.status_code == 201, created.text
            assert (await client.post("/v1/senders", json=seed)).status_code == 409
            bad = await client.post(
                "/v1/senders", json={**seed, "sender_id": "x", "provider": "telegram"}
            )
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "provider"
            paused = await client.patch(
                "/v1/senders/api-1", json={"status": "paused", "pause_reason": "manual"}
            )
            assert paused.json()["status"] == "paused"
            await request(kernel_settings.nats, message(phone(1)))
            await asyncio.sleep(0.8)
            assert sim.stats()["accepted"] == 0  # nobody sends for a paused sender

            async def waiting():  # from the gauges' next periodic read
                stats = (await client.get("/v1/queue/stats")).json()
                return stats if stats["oldest_waiting_seconds"].get("5", 0) > 0 else None

            stats = await eventually(waiting, timeout=15)  # the paused sender's message ages
            assert stats["oldest_waiting_seconds_max"] == stats["oldest_waiting_seconds"]["5"]
            assert stats["totals"]["queued"] == 1 and stats["read_at"]
            moved = await client.patch(
                "/v1/senders/api-1", json={"base_url": "https://attacker.example.net"}
            )
            assert moved.status_code == 422
            resumed = await client.patch("/v1/senders/api-1", json={"status": "active"})
            assert resumed.json()["pause_reason"] is None
            await eventually(lambda: _at_least(db, "sent", 1))
            listing = (await client.get("/v1/senders")).json()
            assert [s["sender_id"] for s in listing] == ["api-1"] and listing[0]["lease_owner"]
            assert listing[0]["sent_today"] == 1  # today's use, against its daily limit
            assert listing[0]["cap_today"] == 500
            assert (await client.get("/v1/senders/nope")).status_code == 404
            stats = (await client.get("/v1/queue/stats")).json()
            assert "totals" in stats


async def test_dead_messages_can_be_requeued_one_by_one_or_per_campaign(kernel_settings, db):
    campaign = uuid4()
    gone = [phone(i) for i in range(3)]
    async with simulator(permanent_numbers=[p.lstrip("+") for p in gone]) as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]) as client:
            msgs = [message(p, campaign_id=campaign) for p in gone]
            await request(kernel_settings.nats, *msgs)
            await eventually(lambda: _at_least(db, "dead", 3))
            sim.provider.change_faults({"permanent_numbers": []})
            one = await client.post(f"/v1/dead-letters/{msgs[0].message_id}/requeue")
            assert one.status_code == 200, one.text
            await eventually(lambda: _at_least(db, "sent", 1))
            again = await client.post(f"/v1/dead-letters/{msgs[0].message_id}/requeue")
            assert again.status_code == 409
            assert (await client.post(f"/v1/dead-letters/{uuid4()}/requeue")).status_code == 404
            rest = await client.post(
                f"/v1/campaigns/{campaign}/requeue-failed", json={"extra_attempts": 2}
            )
            assert rest.json()["requeued"] == 2
            await eventually(lambda: _at_least(db, "sent", 3))
            shown = (await client.get(f"/v1/messages/{msgs[1].message_id}")).json()
            ids = [str(m.message_id) for m in msgs[:2]] + [str(uuid4())]
            looked_up = await client.post("/v1/messages/lookup", json={"message_ids": ids})
            too_many = await client.post(
                "/v1/messages/lookup", json={"message_ids": [str(uuid4()) for _ in range(101)]}
            )
    assert shown["state"] == "sent" and shown["attempt"] == 2 and "phone" not in shown
    found = {m["message_id"]: m for m in looked_up.json()["items"]}
    assert set(found) == set(ids[:2])  # the unknown id is left out
    assert found[ids[0]]["state"] == "sent" and found[ids[0]]["body"] == msgs[0].body
    assert all("phone" not in m for m in found.values())
    assert too_many.status_code == 422


async def test_requeuing_thousands_of_dead_messages_splits_the_enqueued_event(db, kernel_settings):
    """5,600 dead messages of one campaign once made one 1.4 MB event NATS refused."""
    from disparo_dispatcher.handlers import ENQUEUED_PER_EVENT, requeue_dead_for_campaign
    from disparo_shared.db import create_pool
    from disparo_shared.events import MessagesEnqueued
    from disparo_shared.events.sizing import MAX_EVENT_BYTES

    campaign = uuid4()
    await db.execute(
        "INSERT INTO dispatcher.messages (message_id, idempotency_key, phone, kind, body,"
        " priority, campaign_id, time_zone, state, due_at, rank_at, attempt, max_attempts,"
        " requested_at, enqueued_at)"
        " SELECT gen_random_uuid(), 'k' || n, '+55119' || lpad(n::text, 8, '0'), 'campaign',"
        " 'Oi', 5, $1, 'America/Sao_Paulo', 'dead', now(), now(), 5, 5, now(), now()"
        " FROM generate_series(1, 5600) n",
        campaign,
    )
    pool = await create_pool(kernel_settings.database, "dispatcher")
    try:
        requeued = await requeue_dead_for_campaign(pool, campaign, datetime.now(UTC), 3)
    finally:
        await pool.close()
    assert requeued == 5600
    sizes = await db.fetch(
        "SELECT octet_length(payload::text) AS size, json_array_length(payload->'messages') AS n"
        " FROM dispatcher.outbox WHERE subject = 'message.enqueued'"
    )
    assert len(sizes) == 6 and sum(row["n"] for row in sizes) == 5600
    assert max(row["n"] for row in sizes) == ENQUEUED_PER_EVENT
    assert all(row["size"] <= MAX_EVENT_BYTES for row in sizes)
    # The events are written straight from the rows: each must read back as the model.
    payloads = await db.fetch(
        "SELECT payload::text FROM dispatcher.outbox WHERE subject = 'message.enqueued'"
    )
    told = {
        m.message_id: m
        for row in payloads
        for m in MessagesEnqueued.model_validate_json(row["payload"]).messages
    }
    queued = await db.fetch(
        "SELECT message_id, sender_id, due_at FROM dispatcher.messages WHERE state = 'queued'"
    )
    assert len(told) == len(queued) == 5600
    for row in queued:
        m = told[row["message_id"]]
        assert (m.campaign_id, m.kind, m.sender) == (campaign, "campaign", row["sender_id"])
        assert m.not_before == row["due_at"]


async def test_a_person_marks_a_held_send_as_gone_out_once_and_it_is_audited(kernel_settings, db):
    later = datetime.now(UTC) + timedelta(hours=2)
    held, waiting = message(phone(1), not_before=later), message(phone(2), not_before=later)
    async with simulator() as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]) as client:
            async with collect_sent(kernel_settings.nats) as told:
                await request(kernel_settings.nats, held, waiting)
                await eventually(lambda: _at_least(db, "queued", 2))
                # As the resolver leaves a campaign send nothing could settle: held for a person.
                await db.execute(
                    "UPDATE dispatcher.messages SET state = 'in_doubt', attempt = 1,"
                    " in_doubt_since = now(), in_doubt_held_at = now() WHERE message_id = $1",
                    held.message_id,
                )
                gone = await client.post(
                    f"/v1/in-doubt/{held.message_id}/sent",
                    json={"provider_message_id": "3EB0SEEN"},
                )
                assert gone.status_code == 200, gone.text
                assert gone.json() == {"message_id": str(held.message_id), "state": "sent"}
                await eventually(lambda: _told(told, held.message_id))
            again = await client.post(f"/v1/in-doubt/{held.message_id}/sent")
            assert again.status_code == 409
            not_in_doubt = await client.post(f"/v1/in-doubt/{waiting.message_id}/sent")
            assert not_in_doubt.status_code == 409
            assert (await client.post(f"/v1/in-doubt/{uuid4()}/sent")).status_code == 404
    assert await _count(db, "sent") == 1 and sim.stats()["accepted"] == 0
    verdicts = await db.fetch(
        "SELECT outcome, attempt FROM dispatcher.in_doubt_settlements WHERE message_id = $1",
        held.message_id,
    )
    assert [(v["outcome"], v["attempt"]) for v in verdicts] == [("person", 1)]
    audited = await db.fetch(
        "SELECT status FROM dispatcher.audit_log WHERE path = $1 ORDER BY audit_id",
        f"/v1/in-doubt/{held.message_id}/sent",
    )
    assert [a["status"] for a in audited] == [200, 409]


async def _told(told: list[dict], message_id) -> bool:
    return any(payload["message_id"] == str(message_id) for payload in told)
