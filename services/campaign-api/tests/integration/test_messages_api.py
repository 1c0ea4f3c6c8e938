"""POST /v1/messages against real Postgres and NATS: accepted once, idempotent, validated."""

import asyncio
import uuid

from disparo_campaign_api.testing import AUTH, api_client, observe, outbox_is_empty
from disparo_shared.events import subjects
from disparo_shared.testing.fixtures import eventually


def _headers(key: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


async def test_accepted_message_is_requested_once_with_a_stable_id(kernel_settings, db):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        body = {"phone": "(11) 8765-4321", "body": "Olá, Dra. Ana! Temos um plantão amanhã."}
        first = await client.post("/v1/messages", json=body, headers=_headers("k-1"))
        assert first.status_code == 202, first.text
        message_id = first.json()["message_id"]
        uuid.UUID(message_id)
        conversation_id = first.json()["conversation_id"]  # none named: one is opened

        again = await client.post("/v1/messages", json=body, headers=_headers("k-1"))
        assert again.status_code == 202
        assert again.json() == {"message_id": message_id, "conversation_id": conversation_id}
        assert again.headers["Idempotent-Replayed"] == "true"

        await eventually(lambda: outbox_is_empty(db))
        await eventually(seen.count)
        assert len(seen.events) == 1
        [message] = seen.events[0]["messages"]
        assert message["message_id"] == message_id
        assert message["phone"] == "+5511987654321"
        assert message["kind"] == "reply"
        assert message["priority"] == 8
        assert message["idempotency_key"] == "client:k-1"  # apart from internal keys
        assert message["contact_id"] is None
        assert message["conversation_id"] == conversation_id
        assert seen.ids == [seen.events[0]["event_id"]]
        assert seen.subjects == [subjects.MESSAGES_REQUESTED_URGENT]  # a reply: out of turn


async def test_a_client_key_cannot_take_a_campaign_messages_slot(kernel_settings):
    """``campaign:<id>:<contact>`` is the key of a campaign's message to that doctor; a client
    using it must not be deduplicated against it (and so take the doctor's slot)."""
    campaign_key = f"campaign:{uuid.uuid4()}:{uuid.uuid4()}"
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        body = {"phone": "+5511987654321", "body": "Oi"}
        answer = await client.post("/v1/messages", json=body, headers=_headers(campaign_key))
        assert answer.status_code == 202
        await eventually(seen.count)
    [message] = seen.events[0]["messages"]
    assert message["idempotency_key"] == f"client:{campaign_key}"


async def test_same_key_with_another_body_is_refused_naming_the_header(kernel_settings):
    async with api_client(kernel_settings) as client:
        ok = await client.post(
            "/v1/messages", json={"phone": "+5511987654321", "body": "a"}, headers=_headers("k-2")
        )
        assert ok.status_code == 202
        reused = await client.post(
            "/v1/messages", json={"phone": "+5511987654321", "body": "b"}, headers=_headers("k-2")
        )
        assert reused.status_code == 422
        assert reused.headers["content-type"].startswith("application/problem+json")
        assert reused.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_concurrent_retries_with_one_key_request_one_message(kernel_settings, db):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        body = {"phone": "+5511987654321", "body": "oi", "kind": "campaign"}
        answers = await asyncio.gather(
            *(client.post("/v1/messages", json=body, headers=_headers("k-race")) for _ in range(5))
        )
        assert {a.status_code for a in answers} == {202}
        assert len({a.json()["message_id"] for a in answers}) == 1
        await eventually(lambda: outbox_is_empty(db))
        await eventually(seen.count)
        assert len(seen.events) == 1
        assert seen.events[0]["messages"][0]["priority"] == 3
        assert seen.subjects == [subjects.MESSAGES_REQUESTED]  # not urgent: in turn


async def test_invalid_phone_is_a_422_naming_phone(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        answer = await client.post(
            "/v1/messages", json={"phone": "12345", "body": "oi"}, headers=_headers("k-3")
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "phone"
        # nothing was recorded: the same key may be used for the corrected request
        fixed = await client.post(
            "/v1/messages", json={"phone": "11987654321", "body": "oi"}, headers=_headers("k-3")
        )
        assert fixed.status_code == 202


async def test_missing_idempotency_key_and_bad_fields_are_422(kernel_settings):
    async with api_client(kernel_settings) as client:
        missing = await client.post(
            "/v1/messages", json={"phone": "11987654321", "body": "oi"}, headers=AUTH
        )
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "header.Idempotency-Key"
        bad = await client.post(
            "/v1/messages",
            json={"phone": "11987654321", "body": "oi", "priority": 11},
            headers=_headers("k-4"),
        )
        assert bad.status_code == 422
        assert "priority" in bad.json()["detail"]
        naive = await client.post(
            "/v1/messages",
            json={"phone": "11987654321", "body": "oi", "not_before": "2030-01-01T10:00:00"},
            headers=_headers("k-5"),
        )
        assert naive.status_code == 422


async def test_requests_without_the_api_key_are_401(kernel_settings):
    async with api_client(kernel_settings) as client:
        answer = await client.post(
            "/v1/messages",
            json={"phone": "11987654321", "body": "oi"},
            headers={"Idempotency-Key": "k"},
        )
        assert answer.status_code == 401
        wrong = await client.get("/v1/contacts", headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_known_contact_is_attached_and_opted_out_contact_refused(kernel_settings, db):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        created = await client.post(
            "/v1/contacts", json={"phone": "+55 21 98888-7777"}, headers=AUTH
        )
        contact_id = created.json()["id"]
        sent = await client.post(
            "/v1/messages",
            json={"phone": "21988887777", "body": "oi", "not_before": "2030-01-01T10:00:00-03:00"},
            headers=_headers("k-6"),
        )
        assert sent.status_code == 202
        await eventually(seen.count)
        message = seen.events[0]["messages"][0]
        assert message["contact_id"] == contact_id
        assert message["not_before"].startswith("2030-01-01T13:00:00")

        out = await client.post(
            f"/v1/contacts/{contact_id}/opt-out", json={"reason": "pediu"}, headers=AUTH
        )
        assert out.status_code == 200
        refused = await client.post(
            "/v1/messages", json={"phone": "21988887777", "body": "oi"}, headers=_headers("k-7")
        )
        assert refused.status_code == 409
        problem = refused.json()
        assert problem["errors"][0] == {"field": "phone", "reason": "contact opted out"}
        assert "pediu" in problem["detail"]


async def test_a_named_conversation_is_kept_and_the_contact_name_travels(kernel_settings, db):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *subjects.MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        await client.post(
            "/v1/contacts", json={"phone": "+55 21 97777-6666", "name": "Ana Lima"}, headers=AUTH
        )
        conversation_id = str(uuid.uuid4())
        sent = await client.post(
            "/v1/messages",
            json={"phone": "21977776666", "body": "oi", "conversation_id": conversation_id},
            headers=_headers("k-8"),
        )
        assert sent.status_code == 202
        assert sent.json()["conversation_id"] == conversation_id
        await eventually(seen.count)
        message = seen.events[0]["messages"][0]
        assert message["conversation_id"] == conversation_id
        assert message["contact_name"] == "Ana Lima"
