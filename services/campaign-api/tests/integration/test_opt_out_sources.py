"""Opt-outs from an import's ``optout`` status and from the provider (via the dispatcher's
``contact.opted_out``) reach the consent history and keep the doctor out of every audience."""

from datetime import UTC, datetime, timedelta

from disparo_campaign_api.testing import AUTH, api_client, observe, publish_event
from disparo_shared.events import ContactOptedOut, subjects
from disparo_shared.testing.fixtures import eventually

CSV = {**AUTH, "Content-Type": "text/csv"}
EVERYONE = {"all": []}


async def _audience(client) -> int:
    answer = await client.post("/v1/segments/preview", headers=AUTH, json={"filter": EVERYONE})
    assert answer.status_code == 200, answer.text
    return answer.json()["count"]


async def _by_phone(db, phone: str):
    return await db.fetchrow(
        "SELECT id, status, opted_out_at, opt_out_reason FROM campaign_api.contacts"
        " WHERE phone = $1",
        phone,
    )


async def _history(client, contact_id) -> list[tuple[str, str]]:
    answer = await client.get(f"/v1/contacts/{contact_id}/consent", headers=AUTH)
    return [(h["action"], h["source"]) for h in answer.json()]


async def test_import_status_optout_opts_out_with_an_import_consent_entry(kernel_settings, db):
    csv = (
        b"telefone,nome,status\n"
        b"11987654321,Ana,optout\n"  # known below: opted out, business status kept
        b"21988887777,Bruno,OPTOUT\n"  # new: created, opted out
        b"31999990000,Carla,active\n"
    )
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, subjects.CONTACT_OPTED_OUT) as seen,
    ):
        known = await client.post(
            "/v1/contacts", json={"phone": "11987654321", "status": "on_leave"}, headers=AUTH
        )
        assert known.status_code == 201
        answer = await client.post("/v1/contacts/import", content=csv, headers=CSV)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        # Ana is updated (her name), Bruno and Carla inserted; both marked rows opted out
        assert (result["inserted"], result["updated"], result["opted_out"]) == (2, 1, 2)

        ana = await _by_phone(db, "+5511987654321")
        bruno = await _by_phone(db, "+5521988887777")
        assert ana["opted_out_at"] is not None and ana["status"] == "on_leave"
        assert bruno["opted_out_at"] is not None and bruno["status"] == "active"
        assert ana["opt_out_reason"] == "import: status optout"
        assert await _history(client, ana["id"]) == [("opted_out", "import")]
        assert await _audience(client) == 1  # Carla only

        async def two_events():
            return len(seen.events) >= 2

        await eventually(two_events)
        assert {e["phone"] for e in seen.events} == {"+5511987654321", "+5521988887777"}

        again = (await client.post("/v1/contacts/import", content=csv, headers=CSV)).json()
        assert again["opted_out"] == 0  # already out: no second history entry, no event
        assert await _history(client, bruno["id"]) == [("opted_out", "import")]


async def test_api_status_optout_opts_out_instead_of_storing_the_marker(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        created = await client.post(
            "/v1/contacts", json={"phone": "11987654321", "status": "optout"}, headers=AUTH
        )
        assert created.status_code == 201, created.text
        assert created.json()["opted_out"] is True
        assert created.json()["status"] == "active"
        other = await client.post("/v1/contacts", json={"phone": "21988887777"}, headers=AUTH)
        patched = await client.patch(
            f"/v1/contacts/{other.json()['id']}", json={"status": "opted_out"}, headers=AUTH
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["opted_out"] is True
        assert await _history(client, other.json()["id"]) == [("opted_out", "api")]
        assert await _audience(client) == 0


async def test_provider_opt_out_reported_by_the_dispatcher_reaches_consent_and_audiences(
    kernel_settings, db
):
    at = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    async with api_client(kernel_settings) as client:
        known = await client.post("/v1/contacts", json={"phone": "11987654321"}, headers=AUTH)
        await client.post("/v1/contacts", json={"phone": "31999990000"}, headers=AUTH)
        assert await _audience(client) == 2
        # as the dispatcher publishes it after a Cloud 131050 (contact id may be unknown to it)
        reported = ContactOptedOut(phone="+5511987654321", reason="provider_131050", occurred_at=at)
        await publish_event(kernel_settings, reported)
        await publish_event(
            kernel_settings,
            ContactOptedOut(phone="+5521988887777", reason="provider_131050", occurred_at=at),
        )

        async def both_out():
            n = await db.fetchval(
                "SELECT count(*) FROM campaign_api.contacts WHERE opted_out_at IS NOT NULL"
            )
            return n == 2

        await eventually(both_out)
        contact = (await client.get(f"/v1/contacts/{known.json()['id']}", headers=AUTH)).json()
        assert contact["opted_out"] is True
        assert contact["opt_out_reason"] == "provider_131050"
        history = (
            await client.get(f"/v1/contacts/{known.json()['id']}/consent", headers=AUTH)
        ).json()
        assert [(h["source"], h["event_id"]) for h in history] == [
            ("provider", str(reported.event_id))
        ]
        assert await _audience(client) == 1
        # nothing republished: the dispatcher's event is the announcement
        assert await db.fetchval("SELECT count(*) FROM campaign_api.outbox") == 0


async def test_a_late_or_echoed_opt_out_does_not_undo_a_newer_opt_in(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        contact = (
            await client.post("/v1/contacts", json={"phone": "11987654321"}, headers=AUTH)
        ).json()
        out = await client.post(
            f"/v1/contacts/{contact['id']}/opt-out", json={"reason": "pediu"}, headers=AUTH
        )
        assert out.status_code == 200
        back = await client.post(
            f"/v1/contacts/{contact['id']}/opt-in",
            json={"consent_reference": "termo-2026-1"},
            headers=AUTH,
        )
        assert back.json()["opted_out"] is False
        # campaign-api's own event comes back on the subject it subscribes to
        own_event_id = await db.fetchval(
            "SELECT event_id FROM campaign_api.opt_outs WHERE action = 'opted_out'"
        )
        await publish_event(
            kernel_settings,
            ContactOptedOut(
                event_id=own_event_id,
                phone="+5511987654321",
                reason="pediu",
            ),
        )
        # and a provider report from before the opt-in, delivered late
        stale = ContactOptedOut(
            phone="+5511987654321",
            reason="provider_131050",
            occurred_at=datetime.now(UTC) - timedelta(hours=1),
        )
        await publish_event(kernel_settings, stale)
        # a fresh report after both shows the subscriber has read past them
        fresh_phone = "+5521988887777"
        await publish_event(
            kernel_settings, ContactOptedOut(phone=fresh_phone, reason="provider_131050")
        )
        await eventually(lambda: _opted_out(db, fresh_phone))
        assert not await _opted_out(db, "+5511987654321")
        assert await _history(client, contact["id"]) == [
            ("opted_out", "api"),
            ("opted_in", "api"),
        ]


async def _opted_out(db, phone: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT opted_out_at IS NOT NULL FROM campaign_api.contacts WHERE phone = $1", phone
        )
    )
