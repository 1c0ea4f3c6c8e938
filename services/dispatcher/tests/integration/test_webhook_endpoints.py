"""The webhook endpoints over HTTP and a real database: verification, facts told once, parking."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from disparo_dispatcher import archive
from disparo_dispatcher.webhooks.pending import (
    expire_webhook_bookkeeping,
    resolve_pending_statuses,
    resolve_pending_webhooks,
)
from disparo_dispatcher.webhooks.routes import WEBHOOK_ROUTES
from disparo_dispatcher.webhooks.settings import WebhookSettings
from disparo_dispatcher.webhooks.verification import cloud_signature
from disparo_shared.db import create_pool
from disparo_shared.events import limits
from disparo_shared.http import create_http_app
from disparo_shared.settings import DatabaseSettings, HttpSettings
from disparo_shared.testing.fixtures import eventually

APP_SECRET = "sim-app-secret"
EVOLUTION_KEY = "sim-evolution-key"
WABA = "100000000000001"
PHONE_ID = "100200300"
INSTANCE = "recife-01"
DOCTOR = "5511987654321"
T0 = 1_764_108_000.0  # 2025-11-25T22:00:00Z


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=3), "dispatcher"
    )
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO senders (sender_id, provider, address, base_url, credential_ref) VALUES"
            " ('sp-01', 'cloud', $1, 'http://sim/v21.0', 'env:X'),"
            " ('pe-01', 'evolution', $2, 'http://sim', 'env:Y')",
            PHONE_ID,
            INSTANCE,
        )
    yield pool
    await pool.close()


@pytest.fixture
async def client(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[AsyncTestClient]:
    """The shared HTTP edge (API-key middleware included) serving only the webhook routes.

    The test client serves on its own event loop, so the app opens its own pool at startup.
    """
    settings = DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=3)

    async def open_pool(app: Litestar) -> None:
        app.state.pool = await create_pool(settings, "dispatcher")

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    def provide_pool(state: State) -> asyncpg.Pool:
        return state.pool

    app = create_http_app(
        service_name="dispatcher",
        version="test",
        route_handlers=[
            Router(
                "/",
                route_handlers=WEBHOOK_ROUTES,
                dependencies={"pool": Provide(provide_pool, sync_to_thread=False)},
            )
        ],
        http=HttpSettings(api_keys=["not-sent-by-providers"]),
        mode="test",
        readiness_checks=[],
        on_startup=[open_pool],
        on_shutdown=[close_pool],
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def sent_message(
    pool: asyncpg.Pool, provider_message_id: str | None, sender_id: str = "pe-01", attempt: int = 1
) -> tuple[UUID, UUID]:
    """A message the queue has sent (or is sending, without a provider id yet)."""
    message_id, campaign_id = uuid4(), uuid4()
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO messages (message_id, idempotency_key, phone, kind, body, priority,"
        " campaign_id, time_zone, state, due_at, rank_at, attempt, max_attempts, sender_id,"
        " provider_message_id, requested_at, enqueued_at)"
        " VALUES ($1, $2, $3, 'campaign', 'Oi', 5, $4, 'America/Sao_Paulo', $5, $6, $6, $7, 5, $8,"
        " $9, $6, $6)",
        message_id,
        str(message_id),
        "+" + DOCTOR,
        campaign_id,
        "sent" if provider_message_id else "sending",
        now,
        attempt,
        sender_id,
        provider_message_id,
    )
    return message_id, campaign_id


async def outbox(pool: asyncpg.Pool) -> list[tuple[str, dict]]:
    rows = await pool.fetch("SELECT subject, payload FROM outbox ORDER BY id")
    return [(row["subject"], row["payload"]) for row in rows]


async def post_cloud(client: AsyncTestClient, payload: dict, secret: str = APP_SECRET):
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "X-Hub-Signature-256": cloud_signature(secret, body),
        "Content-Type": "application/json",
    }
    return await client.post("/webhooks/cloud", content=body, headers=headers)


async def post_evolution(
    client: AsyncTestClient, payload: dict, header_key: str | None = EVOLUTION_KEY
):
    headers = {"apikey": header_key} if header_key else {}
    return await client.post("/webhooks/evolution", json=payload, headers=headers)


# Payloads as Meta and Evolution document them (the simulator posts the same shapes).


def cloud_envelope(value: dict) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5581", "phone_number_id": PHONE_ID},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": value}]}],
    }


def cloud_status(pmid: str, status: str, at: float = T0, callback: UUID | None = None) -> dict:
    entry = {"id": pmid, "status": status, "timestamp": str(int(at)), "recipient_id": DOCTOR}
    if callback is not None:
        entry["biz_opaque_callback_data"] = str(callback)
    return cloud_envelope({"statuses": [entry]})


def cloud_inbound(from_number: str, text: str, pmid: str, at: float = T0) -> dict:
    return cloud_envelope(
        {
            "contacts": [{"profile": {"name": "Dra. Ana"}, "wa_id": from_number}],
            "messages": [
                {
                    "from": from_number,
                    "id": pmid,
                    "timestamp": str(int(at)),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
    )


def evolution_status(pmid: str, status: str, at: float = T0) -> dict:
    return {
        "event": "messages.update",
        "instance": INSTANCE,
        "data": {
            "keyId": pmid,
            "remoteJid": DOCTOR + "@s.whatsapp.net",
            "fromMe": True,
            "status": "READ" if status == "read" else "DELIVERY_ACK",
            "instanceId": INSTANCE,
        },
        "date_time": datetime.fromtimestamp(at, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "sender": INSTANCE,
        "apikey": EVOLUTION_KEY,
    }


def evolution_inbound(
    instance: str, from_number: str, text: str, pmid: str, at: float = T0
) -> dict:
    return {
        "event": "messages.upsert",
        "instance": instance,
        "data": {
            "key": {"remoteJid": from_number + "@s.whatsapp.net", "fromMe": False, "id": pmid},
            "pushName": "Dr. Rui",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(at),
            "instanceId": instance,
            "source": "android",
        },
        "date_time": "2025-11-25T22:00:00.000Z",
        "sender": instance,
        "apikey": EVOLUTION_KEY,
    }


# --- verification ----------------------------------------------------------------------------


async def test_cloud_webhook_with_a_bad_signature_is_refused(client, pool):
    response = await post_cloud(client, cloud_status("wamid.1", "delivered"), secret="forged")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    unsigned = await client.post("/webhooks/cloud", json=cloud_status("wamid.1", "delivered"))
    assert unsigned.status_code == 401
    assert await outbox(pool) == []


async def test_meta_handshake_echoes_the_challenge_only_for_our_token(client):
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "disparo-verify",
        "hub.challenge": "1158201444",
    }
    ok = await client.get("/webhooks/cloud", params=params)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await client.get("/webhooks/cloud", params={**params, "hub.verify_token": "guess"})
    assert wrong.status_code == 403


async def test_evolution_webhook_needs_the_apikey_in_header_or_body(client, pool):
    await sent_message(pool, "EVO1")
    payload = evolution_status("EVO1", "delivered")
    assert (
        await post_evolution(client, {**payload, "apikey": "wrong"}, header_key="wrong")
    ).status_code == 401
    assert (
        await post_evolution(client, {**payload, "apikey": None}, header_key=None)
    ).status_code == 401
    assert await outbox(pool) == []
    assert (await post_evolution(client, payload, header_key=None)).status_code == 200  # body key
    assert [s for s, _ in await outbox(pool)] == ["message.delivered"]


async def test_webhook_routes_are_documented_in_the_openapi_schema(client):
    schema = (await client.get("/schema/openapi.json")).json()
    assert {"/webhooks/cloud", "/webhooks/evolution"} <= set(schema["paths"])


async def test_settings_come_from_the_dispatcher_environment(monkeypatch):
    monkeypatch.setenv("DISPARO_DISPATCHER_CLOUD_APP_SECRET", "prod-secret")
    assert WebhookSettings().cloud_app_secret == "prod-secret"
    assert WebhookSettings().evolution_webhook_key == "sim-evolution-key"  # the test run's


# --- statuses --------------------------------------------------------------------------------


async def test_repeated_cloud_statuses_tell_each_fact_once(client, pool):
    message_id, campaign_id = await sent_message(pool, "wamid.A", sender_id="sp-01")
    for _ in range(2):
        assert (
            await post_cloud(client, cloud_status("wamid.A", "delivered", T0))
        ).status_code == 200
        assert (
            await post_cloud(client, cloud_status("wamid.A", "read", T0 + 5))
        ).status_code == 200

    events = await outbox(pool)
    assert [s for s, _ in events] == ["message.delivered", "message.read"]
    delivered, read = (p for _, p in events)
    assert delivered["message_id"] == str(message_id)
    assert delivered["campaign_id"] == str(campaign_id)
    assert delivered["provider_message_id"] == "wamid.A"
    assert datetime.fromisoformat(delivered["at"]) == datetime.fromtimestamp(T0, UTC)
    assert datetime.fromisoformat(read["at"]) == datetime.fromtimestamp(T0 + 5, UTC)


async def test_statuses_of_an_archived_message_are_still_told(client, pool):
    """Delivered and read come after the send, often after the message left the hot table."""
    message_id, campaign_id = await sent_message(pool, "wamid.ARCHIVED", sender_id="sp-01")
    finished = datetime.now(UTC) - timedelta(hours=1)
    await pool.execute(
        "UPDATE messages SET finished_at = $2 WHERE message_id = $1", message_id, finished
    )
    assert await archive.archive_finished(pool, datetime.now(UTC), timedelta(minutes=1), 10) == 1
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0

    for status, at in (("delivered", T0), ("read", T0 + 5)):
        response = await post_cloud(client, cloud_status("wamid.ARCHIVED", status, at))
        assert response.json() == {"told": 1, "parked": 0}

    events = await outbox(pool)
    assert [(s, p["message_id"], p["campaign_id"]) for s, p in events] == [
        ("message.delivered", str(message_id), str(campaign_id)),
        ("message.read", str(message_id), str(campaign_id)),
    ]


async def test_read_before_delivered_tells_delivered_once_at_the_read_time(client, pool):
    await sent_message(pool, "EVO2")
    assert (await post_evolution(client, evolution_status("EVO2", "read", T0 + 5))).json() == {
        "told": 2,
        "parked": 0,
    }
    assert (await post_evolution(client, evolution_status("EVO2", "delivered", T0))).json() == {
        "told": 0,
        "parked": 0,
    }

    events = await outbox(pool)
    assert [s for s, _ in events] == ["message.delivered", "message.read"]
    assert events[0][1]["at"] == events[1][1]["at"]


async def test_evolution_server_ack_and_our_inbound_echo_are_ignored(client, pool):
    await sent_message(pool, "EVO3")
    payload = evolution_status("EVO3", "delivered")
    payload["data"]["status"] = "SERVER_ACK"
    assert (await post_evolution(client, payload)).json() == {"told": 0, "parked": 0}
    assert await outbox(pool) == []


async def test_cloud_status_resolves_by_callback_data_before_the_provider_id_is_stored(
    client, pool
):
    message_id, _ = await sent_message(pool, None, sender_id="sp-01")  # send result not written yet
    response = await post_cloud(client, cloud_status("wamid.B", "delivered", callback=message_id))
    assert response.json() == {"told": 1, "parked": 0}
    [(subject, payload)] = await outbox(pool)
    assert (subject, payload["message_id"], payload["provider_message_id"]) == (
        "message.delivered",
        str(message_id),
        "wamid.B",
    )


async def test_cloud_failed_status_tells_a_final_failure_with_the_provider_code(client, pool):
    message_id, _ = await sent_message(pool, "wamid.C", sender_id="sp-01", attempt=2)
    payload = cloud_status("wamid.C", "failed")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"] = [
        {
            "code": 131026,
            "title": "Message undeliverable",
            "error_data": {"details": "Message Undeliverable."},
        }
    ]
    for _ in range(2):
        assert (await post_cloud(client, payload)).status_code == 200
    [(subject, failed)] = await outbox(pool)
    assert subject == "message.failed"
    assert (failed["message_id"], failed["attempt"], failed["error_code"]) == (
        str(message_id),
        2,
        "131026",
    )
    assert (failed["final"], failed["retryable"]) == (True, False)
    assert failed["error"] == "Message Undeliverable."


async def test_cloud_opt_out_failure_opts_the_phone_out_once(client, pool):
    message_id, _ = await sent_message(pool, "wamid.D", sender_id="sp-01")
    waiting = uuid4()
    now = datetime.now(UTC)
    await pool.execute(  # a later message to the same doctor, still in the queue
        "INSERT INTO messages (message_id, idempotency_key, phone, kind, body, priority, time_zone,"
        " state, due_at, rank_at, max_attempts, requested_at, enqueued_at)"
        " VALUES ($1, 'later', $2, 'followup', 'Oi de novo', 5, 'America/Sao_Paulo', 'queued',"
        " $3, $3, 5, $3, $3)",
        waiting,
        "+" + DOCTOR,
        now,
    )
    payload = cloud_status("wamid.D", "failed")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"] = [
        {"code": 131050, "title": "Unable to deliver the message"}
    ]
    for _ in range(2):
        assert (await post_cloud(client, payload)).status_code == 200

    events = await outbox(pool)
    assert [s for s, _ in events] == ["message.failed", "contact.opted_out"]
    assert (events[0][1]["message_id"], events[0][1]["error_code"]) == (str(message_id), "131050")
    assert (events[1][1]["phone"], events[1][1]["reason"]) == ("+" + DOCTOR, "provider_131050")
    assert await pool.fetchval(
        "SELECT opt_out_reason FROM recipients WHERE phone = $1", "+" + DOCTOR
    ) == ("provider_131050")
    assert (
        await pool.fetchval("SELECT state FROM messages WHERE message_id = $1", waiting)
        == "cancelled"
    )


async def test_the_worker_resolves_parked_statuses_by_itself(client, pool):
    await post_evolution(client, evolution_status("EVO5", "delivered"))
    await sent_message(pool, "EVO5")

    class Stub:
        pass

    runtime = Stub()
    runtime.pool = pool
    worker = asyncio.create_task(
        resolve_pending_webhooks(runtime, WebhookSettings(pending_resolve_interval_seconds=0.02))
    )
    try:

        async def told() -> bool:
            return [s for s, _ in await outbox(pool)] == ["message.delivered"]

        await eventually(told)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_status_before_the_send_commit_is_parked_then_told_once(client, pool):
    parked = await post_evolution(client, evolution_status("EVO4", "delivered", T0))
    assert parked.json() == {"told": 0, "parked": 1}
    await post_evolution(client, evolution_status("EVO4", "delivered", T0))  # a repeat waits once
    await post_evolution(client, evolution_status("EVO4", "read", T0 + 3))
    assert await outbox(pool) == []

    message_id, _ = await sent_message(pool, "EVO4")  # the send's result commits
    async with pool.acquire() as conn:
        assert await resolve_pending_statuses(conn, datetime.now(UTC)) == 2
        assert await resolve_pending_statuses(conn, datetime.now(UTC)) == 0
    await post_evolution(client, evolution_status("EVO4", "read", T0 + 3))  # late repeat

    events = await outbox(pool)
    assert [s for s, _ in events] == ["message.delivered", "message.read"]
    assert {p["message_id"] for _, p in events} == {str(message_id)}
    assert datetime.fromisoformat(events[0][1]["at"]) == datetime.fromtimestamp(T0, UTC)
    assert await pool.fetchval("SELECT count(*) FROM pending_statuses") == 0


async def test_parked_statuses_of_unknown_sends_expire(client, pool):
    await post_evolution(client, evolution_status("NOT-OURS", "delivered"))
    now = datetime.now(UTC)
    settings = WebhookSettings(pending_status_ttl_seconds=60)
    async with pool.acquire() as conn:
        await expire_webhook_bookkeeping(conn, now + timedelta(seconds=30), settings)
        assert await conn.fetchval("SELECT count(*) FROM pending_statuses") == 1
        await expire_webhook_bookkeeping(conn, now + timedelta(seconds=61), settings)
        assert await conn.fetchval("SELECT count(*) FROM pending_statuses") == 0


# --- inbound ---------------------------------------------------------------------------------


async def test_cloud_inbound_text_is_received_once_with_our_sender_id(client, pool):
    payload = cloud_inbound("551187654321", "Tenho interesse", "wamid.IN1")
    for _ in range(3):
        assert (await post_cloud(client, payload)).status_code == 200
    [(subject, received)] = await outbox(pool)
    assert subject == "message.received"
    assert received["phone"] == "+5511987654321"  # old 8-digit mobile gains its ninth digit
    assert (received["sender"], received["body"], received["provider_message_id"]) == (
        "sp-01",
        "Tenho interesse",
        "wamid.IN1",
    )


async def test_cloud_inbound_image_gets_a_placeholder_body(client, pool):
    payload = cloud_inbound(DOCTOR, "x", "wamid.IN2")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message.update(type="image", image={"id": "media-1", "mime_type": "image/jpeg"})
    await post_cloud(client, payload)
    [(_, received)] = await outbox(pool)
    assert received["body"] == "[image]"


async def test_evolution_inbound_reply_is_received_once(client, pool):
    payload = evolution_inbound(INSTANCE, DOCTOR, "Pode me ligar?", "EVO-IN1")
    for _ in range(2):
        assert (await post_evolution(client, payload)).status_code == 200
    own_echo = evolution_inbound(INSTANCE, DOCTOR, "eco", "EVO-OUT")
    own_echo["data"]["key"]["fromMe"] = True
    assert (await post_evolution(client, own_echo)).json() == {"told": 0, "parked": 0}

    [(subject, received)] = await outbox(pool)
    assert subject == "message.received"
    assert (received["phone"], received["sender"], received["body"]) == (
        "+5511987654321",
        "pe-01",
        "Pode me ligar?",
    )
    assert datetime.fromisoformat(received["at"]) == datetime.fromtimestamp(T0, UTC)


async def test_an_inbound_text_past_whatsapps_limit_is_cut_not_refused(client, pool):
    """A doctor's reply is never lost to the event's cap (``limits.INBOUND_BODY``): the webhook
    answers 200 and the event carries the text cut at the cap."""
    text = "Sim! " * (limits.INBOUND_BODY // 5 + 10)
    payload = evolution_inbound(INSTANCE, DOCTOR, text, "EVO-LONG")
    assert (await post_evolution(client, payload)).status_code == 200
    [(subject, received)] = await outbox(pool)
    assert subject == "message.received"
    assert received["body"] == text[: limits.INBOUND_BODY]


async def test_inbound_to_an_unknown_number_names_the_address(client, pool):
    payload = evolution_inbound("other-instance", DOCTOR, "Oi", "EVO-IN2")
    await post_evolution(client, payload)
    [(_, received)] = await outbox(pool)
    assert received["sender"] == "other-instance"


async def test_the_evolution_key_is_checked_before_the_body_is_parsed(client):
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (b"not json", deep, b"   "):
        forged = await client.post("/webhooks/evolution", content=body, headers={"apikey": "wrong"})
        assert forged.status_code == 401, (body[:10], forged.status_code)
        keyless = await client.post("/webhooks/evolution", content=body)
        assert keyless.status_code == 401, (body[:10], keyless.status_code)
        genuine = await client.post(
            "/webhooks/evolution", content=body, headers={"apikey": EVOLUTION_KEY}
        )
        assert genuine.status_code == 400, (body[:10], genuine.status_code)


async def test_a_deeply_nested_signed_cloud_body_is_a_400(client):
    deep = b'{"entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = await client.post(
        "/webhooks/cloud",
        content=deep,
        headers={"X-Hub-Signature-256": cloud_signature(APP_SECRET, deep)},
    )
    assert answer.status_code == 400
