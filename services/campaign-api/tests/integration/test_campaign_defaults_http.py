"""Creating campaigns over HTTP: the spec's defaults, scheduling at creation, kinds on the wire."""

from datetime import UTC, datetime, timedelta

from disparo_campaign_api.testing import AUTH, api_client, observe, outbox_is_empty
from disparo_shared.events import subjects
from disparo_shared.testing.fixtures import eventually

ABC = {"field": "region", "op": "eq", "value": "ABC"}


async def test_defaults_scheduled_for_and_explicit_no_cap(kernel_settings, db):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, subjects.CAMPAIGN_SCHEDULED) as scheduled,
    ):
        plain = await client.post(
            "/v1/campaigns", headers=AUTH, json={"name": "a", "template": "Oi", "filter": ABC}
        )
        assert plain.status_code == 201, plain.text
        assert (plain.json()["max_per_day"], plain.json()["priority"]) == (50, 3)
        assert plain.json()["state"] == "draft"

        uncapped = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={"name": "b", "template": "Oi", "filter": ABC, "max_per_day": None},
        )
        assert uncapped.json()["max_per_day"] is None

        at = datetime.now(UTC) + timedelta(days=1)
        later = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={
                "name": "c",
                "kind": "promotional",
                "template": "Oi",
                "filter": ABC,
                "scheduled_for": at.isoformat(),
            },
        )
        assert later.status_code == 201, later.text
        assert later.json()["state"] == "scheduled"
        assert later.json()["kind"] == "promotional"
        assert datetime.fromisoformat(later.json()["scheduled_for"]) == at

        async def one_scheduled():
            return len(scheduled.events) == 1

        await eventually(one_scheduled)
        assert scheduled.events[0]["campaign_id"] == later.json()["id"]

        past = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={
                "name": "d",
                "template": "Oi",
                "filter": ABC,
                "scheduled_for": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            },
        )
        assert past.status_code == 422, past.text
        assert past.json()["errors"][0]["field"] == "scheduled_for"
        # nothing half-written: no campaign "d"
        assert await db.fetchval("SELECT count(*) FROM campaign_api.campaigns") == 3


async def test_a_followup_campaign_sends_followup_messages(kernel_settings, db):
    await db.execute(
        "INSERT INTO campaign_api.contacts (phone, region) VALUES ('+5511900000001', 'ABC')"
    )
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        created = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={"name": "lembrete", "kind": "followup", "template": "Oi {nome}", "filter": ABC},
        )
        assert created.status_code == 201, created.text
        started = await client.post(f"/v1/campaigns/{created.json()['id']}/start", headers=AUTH)
        assert started.status_code == 200, started.text

        async def requested():
            return len(seen.events) == 1 and await outbox_is_empty(db)

        await eventually(requested)
        [message] = seen.events[0]["messages"]
        assert (message["kind"], message["priority"]) == ("followup", 3)


async def test_a_template_syntax_fault_is_a_422_naming_the_position(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        bad = await client.post(
            "/v1/campaigns",
            headers=AUTH,
            json={"name": "x", "template": "Oi {nome, tudo bem?", "filter": ABC},
        )
        assert bad.status_code == 422, bad.text
        [error] = bad.json()["errors"]
        assert error["field"] == "template"
        assert error["reason"].startswith("position 4: a { that is never closed")
        assert await db.fetchval("SELECT count(*) FROM campaign_api.campaigns") == 0
