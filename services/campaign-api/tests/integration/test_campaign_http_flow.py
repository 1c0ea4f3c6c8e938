"""Segments and campaigns over HTTP with the running app, real Postgres and NATS."""

from datetime import UTC, datetime, timedelta

from disparo_campaign_api.testing import (
    AUTH,
    api_client,
    observe,
    outbox_is_empty,
    publish_event,
    sent_message,
)
from disparo_shared.events import MessageFailed, MessagesSent, subjects
from disparo_shared.testing.fixtures import eventually

ABC = {"field": "region", "op": "eq", "value": "ABC"}


async def add_contacts(db, n: int) -> None:
    await db.execute(
        "INSERT INTO campaign_api.contacts (phone, name, specialty, region, last_contact_at)"
        " SELECT '+55119' || lpad(g::text, 8, '0'), 'Dra. Ana ' || g, 'Anestesiologia', 'ABC', NULL"
        " FROM generate_series(1, $1) g",
        n,
    )


async def test_segment_endpoints(kernel_settings, db):
    await add_contacts(db, 12)
    async with api_client(kernel_settings) as client:
        bad = await client.post(
            "/v1/segments/preview",
            headers=AUTH,
            json={"filter": {"all": [ABC, {"field": "region", "op": "like", "value": "A%"}]}},
        )
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["field"] == "filter.all[1].op"

        preview = await client.post(
            "/v1/segments/preview", headers=AUTH, json={"filter": ABC, "max_per_day": 5}
        )
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert body["count"] == 12 and len(body["sample"]) == 10
        assert body["estimated_send_seconds"] == 2 * 86_400 + 1
        assert "+5511900000001" not in preview.text

        predefined = await client.get("/v1/segments/predefined", headers=AUTH)
        assert "predefined:inactive_30d" in {s["id"] for s in predefined.json()}
        inactive = await client.post(
            "/v1/segments/preview", headers=AUTH, json={"segment_id": "predefined:inactive_30d"}
        )
        assert inactive.json()["count"] == 0  # never contacted, but known only since today
        await db.execute(
            "UPDATE campaign_api.contacts SET created_at = now() - interval '40 days'"
            " WHERE phone <= '+5511900000004'"
        )
        inactive = await client.post(
            "/v1/segments/preview", headers=AUTH, json={"segment_id": "predefined:inactive_30d"}
        )
        assert inactive.json()["count"] == 4  # never contacted in 40 days known

        created = await client.post(
            "/v1/segments",
            headers={**AUTH, "Idempotency-Key": "s1"},
            json={"name": "ABC", "filter": ABC},
        )
        assert created.status_code == 201, created.text
        again = await client.post(
            "/v1/segments",
            headers={**AUTH, "Idempotency-Key": "s1"},
            json={"name": "ABC", "filter": ABC},
        )
        assert again.json()["id"] == created.json()["id"]
        sid = created.json()["id"]
        listed = await client.get("/v1/segments?limit=1", headers=AUTH)
        assert [s["id"] for s in listed.json()["items"]] == [sid]
        changed = await client.patch(f"/v1/segments/{sid}", headers=AUTH, json={"name": "ABC 2"})
        assert changed.json()["name"] == "ABC 2" and changed.json()["filter"] == ABC
        assert (await client.get(f"/v1/segments/{sid}", headers=AUTH)).status_code == 200
        assert (await client.delete(f"/v1/segments/{sid}", headers=AUTH)).status_code == 204
        assert (await client.get(f"/v1/segments/{sid}", headers=AUTH)).status_code == 404
        assert (await client.get("/v1/segments")).status_code == 401


async def test_campaign_from_create_to_completed(kernel_settings, db):
    await add_contacts(db, 25)
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        bad = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={"name": "x", "template": "Olá {nome!r}", "filter": ABC},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "template"
        assert "{nome}" in bad.json()["errors"][0]["reason"]

        created = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={
                "name": "Plantão ABC",
                "template": "Olá {primeiro_nome}! Plantão de {especialidade}.",
                "filter": ABC,
                "max_per_day": 10,
                "priority": 4,
            },
        )
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        preview = await client.post(f"/v1/campaigns/{cid}/preview?limit=2", headers=AUTH)
        assert preview.json()["samples"][0]["body"] == "Olá Dra.! Plantão de Anestesiologia."

        assert (await client.post(f"/v1/campaigns/{cid}/pause", headers=AUTH)).status_code == 409
        edited = await client.patch(
            f"/v1/campaigns/{cid}", headers=AUTH, json={"name": "Plantão ABC 2"}
        )
        assert edited.json()["name"] == "Plantão ABC 2"
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert (
            await client.post(f"/v1/campaigns/{cid}/schedule", headers=AUTH, json={"at": at})
        ).json()["state"] == "scheduled"

        starts = [await client.post(f"/v1/campaigns/{cid}/start", headers=AUTH) for _ in range(2)]
        assert [s.status_code for s in starts] == [200, 200]
        assert starts[0].json()["audience_size"] == starts[1].json()["audience_size"] == 25
        assert (
            await client.patch(f"/v1/campaigns/{cid}", headers=AUTH, json={"name": "y"})
        ).status_code == 409

        async def all_requested():
            return sum(len(e["messages"]) for e in seen.events) == 25 and await outbox_is_empty(db)

        await eventually(all_requested)
        messages = [m for e in seen.events for m in e["messages"]]
        assert len({m["message_id"] for m in messages}) == 25
        assert len({m["not_before"] for m in messages}) == 3  # 10 + 10 + 5 over three days

        sent_at = datetime.now(UTC)
        for flush in (messages[:10], messages[10:-1]):  # as two flushes of the dispatcher
            await publish_event(
                kernel_settings,
                MessagesSent(
                    messages=[
                        sent_message(
                            m["message_id"], sent_at, campaign_id=cid, contact_id=m["contact_id"]
                        )
                        for m in flush
                    ]
                ),
            )
        await publish_event(
            kernel_settings,
            MessageFailed(
                message_id=messages[-1]["message_id"],
                campaign_id=cid,
                attempt=5,
                error_code="131026",
                error="undeliverable",
                retryable=False,
                final=True,
            ),
        )

        async def completed():
            return (await client.get(f"/v1/campaigns/{cid}", headers=AUTH)).json()[
                "state"
            ] == "completed"

        await eventually(completed)
        listed = await client.get("/v1/campaigns?state=completed", headers=AUTH)
        assert [c["id"] for c in listed.json()["items"]] == [cid]
    async with observe(kernel_settings, subjects.CAMPAIGN_COMPLETED) as done:
        await eventually(done.count)
        assert len(done.events) == 1
