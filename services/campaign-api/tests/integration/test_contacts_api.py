"""Contacts over HTTP against real Postgres and NATS: upsert, read, patch, list, consent."""

import uuid

from disparo_campaign_api.testing import AUTH, api_client, observe
from disparo_shared.events import subjects
from disparo_shared.testing.fixtures import eventually


async def test_upsert_by_phone_creates_then_updates_keeping_omitted_fields(kernel_settings):
    async with api_client(kernel_settings) as client:
        created = await client.post(
            "/v1/contacts",
            json={
                "phone": "(11) 8765-4321",
                "name": "Ana Souza",
                "specialty": "Anestesiologia",
                "region": "ABC",
                "tags": ["disponível", " noturno ", "disponível"],
                "attributes": {"crm_uf": "SP"},
            },
            headers=AUTH,
        )
        assert created.status_code == 201, created.text
        contact = created.json()
        assert contact["phone"] == "+5511987654321"
        assert contact["tags"] == ["disponível", "noturno"]
        assert contact["status"] == "active"
        assert contact["time_zone"] == "America/Sao_Paulo"
        assert contact["opted_out"] is False

        updated = await client.post(
            "/v1/contacts",
            json={
                "phone": "+55 11 98765-4321",
                "region": "Capital SP",
                "attributes": {"crm": "123"},
            },
            headers=AUTH,
        )
        assert updated.status_code == 200
        again = updated.json()
        assert again["id"] == contact["id"]
        assert again["region"] == "Capital SP"
        assert again["name"] == "Ana Souza"
        assert again["attributes"] == {"crm_uf": "SP", "crm": "123"}

        read = await client.get(f"/v1/contacts/{contact['id']}", headers=AUTH)
        assert read.status_code == 200
        assert read.json()["region"] == "Capital SP"


async def test_invalid_fields_are_422_naming_them(kernel_settings):
    async with api_client(kernel_settings) as client:
        for body, field in [
            ({"phone": "abc"}, "phone"),
            ({"phone": "11987654321", "time_zone": "Mars/Olympus"}, "time_zone"),
            ({"phone": "11987654321", "status": "Not Valid!"}, "status"),
        ]:
            answer = await client.post("/v1/contacts", json=body, headers=AUTH)
            assert answer.status_code == 422, body
            assert answer.json()["errors"][0]["field"] == field
        unknown = await client.post(
            "/v1/contacts", json={"phone": "11987654321", "cpf": "1"}, headers=AUTH
        )
        assert unknown.status_code == 422
        assert "cpf" in unknown.json()["detail"]


async def test_patch_changes_only_what_is_sent(kernel_settings):
    async with api_client(kernel_settings) as client:
        contact = (
            await client.post(
                "/v1/contacts",
                json={
                    "phone": "11987654321",
                    "name": "Ana",
                    "specialty": "Pediatria",
                    "tags": ["a", "b"],
                    "attributes": {"x": 1, "y": 2},
                },
                headers=AUTH,
            )
        ).json()
        patched = await client.patch(
            f"/v1/contacts/{contact['id']}",
            json={
                "specialty": None,
                "tags": ["c"],
                "status": "inactive",
                "attributes": {"x": None, "z": 3},
            },
            headers=AUTH,
        )
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert body["name"] == "Ana"
        assert body["specialty"] is None
        assert body["tags"] == ["c"]
        assert body["status"] == "inactive"
        assert body["attributes"] == {"y": 2, "z": 3}
        missing = await client.patch(
            f"/v1/contacts/{uuid.uuid4()}", json={"name": "x"}, headers=AUTH
        )
        assert missing.status_code == 404
        null_status = await client.patch(
            f"/v1/contacts/{contact['id']}", json={"status": None}, headers=AUTH
        )
        assert null_status.status_code == 422


async def test_list_filters_and_walks_pages_with_a_cursor(kernel_settings):
    async with api_client(kernel_settings) as client:
        for i in range(7):
            await client.post(
                "/v1/contacts",
                json={
                    "phone": f"1198765{i:04d}",
                    "specialty": "Anestesiologia" if i % 2 == 0 else "Pediatria",
                    "region": "ABC",
                    "tags": ["disponível"] if i < 5 else [],
                },
                headers=AUTH,
            )
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"specialty": "Anestesiologia", "region": "ABC", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/contacts", params=params, headers=AUTH)).json()
            seen += [c["phone"] for c in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 2
        assert sorted(seen) == [f"+55119876500{i:02d}" for i in (0, 2, 4, 6)]  # each once

        tagged = (
            await client.get("/v1/contacts", params={"tag": "disponível"}, headers=AUTH)
        ).json()
        assert len(tagged["items"]) == 5
        bad_cursor = await client.get("/v1/contacts", params={"cursor": "nope"}, headers=AUTH)
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["errors"][0]["field"] == "cursor"
        bad_limit = await client.get("/v1/contacts", params={"limit": 0}, headers=AUTH)
        assert bad_limit.status_code == 422


async def test_opt_out_and_in_are_recorded_and_published(kernel_settings):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, subjects.CONTACT_ALL) as seen,
    ):
        contact = (
            await client.post("/v1/contacts", json={"phone": "11987654321"}, headers=AUTH)
        ).json()
        url = f"/v1/contacts/{contact['id']}"
        out = await client.post(
            f"{url}/opt-out", json={"reason": "pediu por telefone"}, headers=AUTH
        )
        assert out.status_code == 200
        assert out.json()["opted_out"] is True
        assert out.json()["opt_out_reason"] == "pediu por telefone"
        twice = await client.post(f"{url}/opt-out", json={"reason": "outra"}, headers=AUTH)
        assert twice.json()["opt_out_reason"] == "pediu por telefone"  # the first stays

        listed = (
            await client.get("/v1/contacts", params={"opted_out": "true"}, headers=AUTH)
        ).json()
        assert [c["id"] for c in listed["items"]] == [contact["id"]]

        bare = await client.post(f"{url}/opt-in", json={"reason": "autorizou"}, headers=AUTH)
        assert bare.status_code == 422  # an opt-in needs proof of consent
        assert "consent_reference" in bare.text
        back = await client.post(
            f"{url}/opt-in",
            json={"reason": "autorizou", "consent_reference": "termo-2025-118"},
            headers=AUTH,
        )
        assert back.status_code == 200
        assert back.json()["opted_out"] is False

        history = (await client.get(f"{url}/consent", headers=AUTH)).json()
        assert [(h["action"], h["reason"], h["source"], h["source_ref"]) for h in history] == [
            ("opted_out", "pediu por telefone", "api", None),
            ("opted_in", "autorizou", "api", "termo-2025-118"),
        ]
        await eventually(lambda: _at_least(seen, 2))
        assert [e["phone"] for e in seen.events] == ["+5511987654321"] * 2
        assert seen.events[0]["reason"] == "pediu por telefone"
        assert seen.events[0]["contact_id"] == contact["id"]
        assert [str(h["event_id"]) for h in history] == [e["event_id"] for e in seen.events]

        missing = await client.post(
            f"/v1/contacts/{uuid.uuid4()}/opt-out", json={"reason": "x"}, headers=AUTH
        )
        assert missing.status_code == 404


async def test_post_with_idempotency_key_replays_the_first_answer(kernel_settings):
    async with api_client(kernel_settings) as client:
        headers = {**AUTH, "Idempotency-Key": "c-1"}
        first = await client.post(
            "/v1/contacts", json={"phone": "11987654321", "name": "A"}, headers=headers
        )
        again = await client.post(
            "/v1/contacts", json={"phone": "11987654321", "name": "A"}, headers=headers
        )
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        other = await client.post(
            "/v1/contacts", json={"phone": "11987654321", "name": "B"}, headers=headers
        )
        assert other.status_code == 422


async def _at_least(observed, n):
    return len(observed.events) >= n
