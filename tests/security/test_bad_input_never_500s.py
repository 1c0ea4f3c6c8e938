"""Bad input never answers 500: deep nesting, filter bombs, control and bidi characters,
empty bodies. Each answer is a 4xx naming what is wrong; nothing is half-written."""

import base64
import json

from disparo_campaign_api.testing import AUTH, api_client

DEEP = 50_000
NESTED = ("[" * DEEP + "]" * DEEP).encode()
JSON = {**AUTH, "Content-Type": "application/json"}


def nested_object(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_deeply_nested_bodies_are_400_on_every_json_route(kernel_settings):
    async with api_client(kernel_settings) as client:
        for path in ("/v1/messages", "/v1/contacts", "/v1/segments/preview", "/v1/campaigns"):
            answer = await client.post(path, content=NESTED, headers=JSON)
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
            assert "nested" in answer.json()["detail"]


async def test_a_whitespace_only_body_is_400(kernel_settings):
    async with api_client(kernel_settings) as client:
        for body in (b"   ", b"\n\t ", b""):
            answer = await client.post("/v1/messages", content=body, headers=JSON)
            assert 400 <= answer.status_code < 500, (body, answer.status_code)


async def test_a_cursor_holding_deep_json_is_a_422_naming_the_cursor(kernel_settings):
    deep = b"[" * 3000 + b"]" * 3000  # past Python's recursion limit, short enough for a URL
    cursor = base64.urlsafe_b64encode(deep).decode().rstrip("=")
    async with api_client(kernel_settings) as client:
        answer = await client.get("/v1/contacts", params={"cursor": cursor}, headers=AUTH)
        assert answer.status_code == 422, answer.text[:200]
        assert answer.json()["errors"][0]["field"] == "cursor"


async def test_deep_json_in_import_rows_and_cells_is_a_row_error(kernel_settings, db):
    deep_attributes = json.dumps(nested_object(60))
    ndjson = (
        b'{"phone": "+5511987654321", "name": "Ana"}\n'
        + NESTED
        + b"\n"
        + json.dumps({"phone": "+5511987654322", "attributes": nested_object(60)}).encode()
        + b"\n"
    )
    csv = (
        "telefone;nome;attributes\n"
        f"+5511987654323;Bia;{'[' * 5000}\n"
        f'+5511987654324;Caio;"{deep_attributes.replace(chr(34), chr(34) * 2)}"\n'
    )
    async with api_client(kernel_settings) as client:
        answer = await client.post(
            "/v1/contacts/import",
            content=ndjson,
            headers={**AUTH, "Content-Type": "application/x-ndjson"},
        )
        assert answer.status_code == 200, answer.text[:300]
        assert (answer.json()["inserted"], answer.json()["invalid"]) == (1, 2)
        answer = await client.post(
            "/v1/contacts/import",
            content=csv.encode(),
            headers={**AUTH, "Content-Type": "text/csv"},
        )
        assert answer.status_code == 200, answer.text[:300]
        assert (answer.json()["inserted"], answer.json()["invalid"]) == (0, 2)
        assert {e["field"] for e in answer.json()["errors"]} == {"attributes"}
    assert await db.fetchval("SELECT count(*) FROM campaign_api.contacts") == 1


async def test_deep_attributes_on_a_contact_are_a_422(kernel_settings):
    async with api_client(kernel_settings) as client:
        answer = await client.post(
            "/v1/contacts",
            json={"phone": "+5511987654321", "attributes": nested_object(60)},
            headers=AUTH,
        )
        assert answer.status_code == 422, answer.text[:200]
        assert "attributes" in answer.text


async def test_an_empty_group_filter_bomb_is_a_422(kernel_settings):
    bomb = {"any": [{"all": []} for _ in range(20_000)]}
    wide = {"all": [{"any": [{"all": [{"all": []}] * 50}] * 50}] * 50}
    async with api_client(kernel_settings) as client:
        for filter_ in (bomb, wide):
            answer = await client.post(
                "/v1/segments/preview", json={"filter": filter_}, headers=AUTH
            )
            assert answer.status_code == 422, answer.text[:200]
            assert answer.json()["errors"][0]["field"].startswith("filter")


async def test_control_and_bidi_characters_are_a_422_naming_the_field(kernel_settings, db):
    cases = [
        ("/v1/messages", {"phone": "+5511987654321", "body": "Olá\x00"}, "body"),
        ("/v1/messages", {"phone": "+5511987654321", "body": "Olá \u202etxt.exe"}, "body"),
        ("/v1/contacts", {"phone": "+5511987654321", "name": "Ana\x00"}, "name"),
        ("/v1/contacts", {"phone": "+5511987654321", "name": "Ana \u202eanuS"}, "name"),
        ("/v1/contacts", {"phone": "+5511987654321", "tags": ["ok\u2066"]}, "tags"),
        (
            "/v1/contacts",
            {"phone": "+5511987654321", "attributes": {"crm": "12\x00"}},
            "attributes",
        ),
        ("/v1/campaigns", {"name": "Plantão\u202eABC", "template": "Oi {nome}"}, "name"),
        ("/v1/campaigns", {"name": "Plantão", "template": "Oi\x00 {nome}"}, "template"),
        ("/v1/segments", {"name": "SP\x07", "filter": {"all": []}}, "name"),
    ]
    async with api_client(kernel_settings) as client:
        for path, body, field in cases:
            answer = await client.post(
                path, json=body, headers={**AUTH, "Idempotency-Key": f"bad-{field}-{len(body)}"}
            )
            assert answer.status_code == 422, (path, body, answer.status_code, answer.text[:200])
            assert field in answer.text, (field, answer.text[:200])
        ok = await client.post(
            "/v1/messages",
            json={"phone": "+5511987654321", "body": "Olá!\nTemos um plantão.\tResponda"},
            headers={**AUTH, "Idempotency-Key": "good-1"},
        )
        assert ok.status_code == 202, ok.text
    assert await db.fetchval("SELECT count(*) FROM campaign_api.contacts") <= 1


async def test_oversized_text_is_a_422_naming_the_field_and_nothing_is_written(kernel_settings, db):
    """Every text that ends up in an event is capped at the edge, below the event's own cap
    (``disparo_shared.events.limits``), so the bus never sees it."""
    async with api_client(kernel_settings) as client:
        created = await client.post(
            "/v1/contacts", json={"phone": "+5511987654329", "name": "Ana"}, headers=AUTH
        )
        contact_id = created.json()["id"]
        for path, body, field in (
            ("/v1/messages", {"phone": "+5511987654321", "body": "x" * 4097}, "body"),
            ("/v1/contacts", {"phone": "+5511987654322", "name": "N" * 201}, "name"),
            (f"/v1/contacts/{contact_id}/opt-out", {"reason": "r" * 501}, "reason"),
            (
                "/v1/campaigns",
                {"name": "C" * 201, "template": "Oi {nome}", "filter": {}},
                "name",
            ),
        ):
            answer = await client.post(path, json=body, headers=AUTH)
            assert answer.status_code == 422, (path, answer.status_code, answer.text[:200])
            assert field in answer.json()["detail"], (path, answer.json()["detail"][:200])
    assert await db.fetchval("SELECT count(*) FROM campaign_api.outbox") == 0
    assert await db.fetchval("SELECT count(*) FROM campaign_api.contacts") == 1
