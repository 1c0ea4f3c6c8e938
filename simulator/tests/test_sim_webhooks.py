"""Webhooks back to the caller, received by a real local HTTP server."""

import asyncio
import hashlib
import hmac
import json

from sim_helpers import (
    CLOUD_AUTH,
    CLOUD_URL,
    EVOLUTION_AUTH,
    EVOLUTION_URL,
    cloud_message,
    evolution_message,
    stats,
)

from disparo_simulator.doctors import REPLY_TEXTS
from disparo_simulator.events import StatusEvent
from disparo_simulator.outcomes import Dialect
from disparo_simulator.settings import SimulatorConfig
from disparo_simulator.webhooks import WebhookPoster

FAST_AND_CHATTY = {
    "delivered_after_seconds": 0.01,
    "read_after_seconds": 0.01,
    "reply_after_seconds": 0.01,
    "read_probability": 1.0,
    "reply_probability": 1.0,
}


def cloud_value(webhook) -> dict:
    payload = json.loads(webhook.body)
    assert payload["object"] == "whatsapp_business_account"
    (entry,) = payload["entry"]
    (change,) = entry["changes"]
    assert change["field"] == "messages"
    return change["value"]


async def test_cloud_statuses_then_reply_arrive_in_order_and_signed(make_client, webhook_receiver):
    async with make_client(cloud_webhook_url=webhook_receiver.url, **FAST_AND_CHATTY) as client:
        response = await client.post(
            CLOUD_URL, json=cloud_message(biz_opaque_callback_data="msg-1"), headers=CLOUD_AUTH
        )
        wamid = response.json()["messages"][0]["id"]
        sent, delivered, read, reply = await webhook_receiver.wait_for(4)

    for webhook in (sent, delivered, read, reply):
        expected = hmac.new(b"sim-app-secret", webhook.body, hashlib.sha256).hexdigest()
        assert webhook.headers["x-hub-signature-256"] == "sha256=" + expected
    (sent_status,) = cloud_value(sent)["statuses"]
    assert (sent_status["status"], sent_status["id"]) == ("sent", wamid)
    assert sent_status["biz_opaque_callback_data"] == "msg-1"
    (delivered_status,) = cloud_value(delivered)["statuses"]
    assert delivered_status["id"] == wamid
    assert delivered_status["status"] == "delivered"
    assert delivered_status["recipient_id"] == "5511987654321"
    assert delivered_status["biz_opaque_callback_data"] == "msg-1"
    assert delivered_status["timestamp"].isdigit()
    assert cloud_value(delivered)["metadata"]["phone_number_id"] == "1234567890"
    assert cloud_value(read)["statuses"][0]["status"] == "read"
    inbound = cloud_value(reply)
    assert inbound["contacts"][0]["wa_id"] == "5511987654321"
    assert inbound["contacts"][0]["profile"]["name"].startswith("Dr")
    (message,) = inbound["messages"]
    assert message["from"] == "5511987654321"
    assert message["type"] == "text"
    assert message["text"]["body"] in REPLY_TEXTS


async def test_evolution_status_and_reply_events_carry_the_apikey(make_client, webhook_receiver):
    async with make_client(evolution_webhook_url=webhook_receiver.url, **FAST_AND_CHATTY) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH
        )
        key_id = response.json()["key"]["id"]
        echo, delivered, read, reply = await webhook_receiver.wait_for(4)

    events = [json.loads(webhook.body) for webhook in (delivered, read, reply)]
    assert all(webhook.headers["apikey"] == "sim-evolution-key" for webhook in (delivered, read))
    assert json.loads(echo.body)["event"] == "send.message"
    assert [event["event"] for event in events] == [
        "messages.update",
        "messages.update",
        "messages.upsert",
    ]
    assert events[0]["instance"] == "recruiter-1"
    assert events[0]["apikey"] == "sim-evolution-key"
    assert events[0]["data"]["keyId"] == key_id
    assert events[0]["data"]["remoteJid"] == "5511987654321@s.whatsapp.net"
    assert [event["data"]["status"] for event in events[:2]] == ["DELIVERY_ACK", "READ"]
    upsert = events[2]["data"]
    assert upsert["key"]["remoteJid"] == "5511987654321@s.whatsapp.net"
    assert upsert["key"]["fromMe"] is False
    assert upsert["message"]["conversation"] in REPLY_TEXTS
    assert upsert["pushName"]


async def test_unread_message_gets_only_the_sent_and_delivered_statuses(
    make_client, webhook_receiver
):
    config = {**FAST_AND_CHATTY, "read_probability": 0.0, "reply_probability": 0.0}
    async with make_client(cloud_webhook_url=webhook_receiver.url, **config) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await webhook_receiver.wait_for(2)
        await asyncio.sleep(0.1)
        counts = await stats(client)

    statuses = [
        cloud_value(webhook)["statuses"][0]["status"] for webhook in webhook_receiver.received
    ]
    assert statuses == ["sent", "delivered"]
    assert counts["webhooks_posted"] == 2
    assert counts["sent_statuses_posted"] == 1
    assert counts["webhooks_pending"] == 0


async def test_inbound_endpoint_makes_a_doctor_write_now(make_client, webhook_receiver):
    async with make_client(cloud_webhook_url=webhook_receiver.url) as client:
        response = await client.post(
            "/_sim/inbound",
            json={
                "dialect": "cloud",
                "sender": "1234567890",
                "from": "5511987654321",
                "text": "Qual o valor do plantão?",
            },
        )
        (webhook,) = await webhook_receiver.wait_for(1)

    assert response.status_code == 200
    assert response.json()["posted"] is True
    value = cloud_value(webhook)
    assert value["metadata"]["phone_number_id"] == "1234567890"
    assert value["messages"][0]["text"]["body"] == "Qual o valor do plantão?"
    assert value["messages"][0]["id"] == response.json()["provider_message_id"]


async def test_inbound_without_a_webhook_url_is_409(client):
    response = await client.post(
        "/_sim/inbound",
        json={"dialect": "evolution", "sender": "i1", "from": "5511987654321", "text": "oi"},
    )

    assert response.status_code == 409


async def test_receiver_errors_are_counted_and_sends_go_on(make_client, webhook_receiver):
    webhook_receiver.status_code = 500
    async with make_client(cloud_webhook_url=webhook_receiver.url, **FAST_AND_CHATTY) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await webhook_receiver.wait_for(4)
        await asyncio.sleep(0.05)
        counts = await stats(client)
        second = await client.post(
            CLOUD_URL, json=cloud_message(to="5511900000001"), headers=CLOUD_AUTH
        )

    assert counts["webhook_failures"] == 4
    assert counts["webhooks_posted"] == 0
    assert counts["sent_statuses_posted"] == 0
    assert second.status_code == 200


async def test_unreachable_receiver_is_counted_as_failure(make_client):
    config = {**FAST_AND_CHATTY, "read_probability": 0.0, "reply_probability": 0.0}
    async with make_client(cloud_webhook_url="http://127.0.0.1:9/hook", **config) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        for _ in range(100):
            if (await stats(client))["webhooks_pending"] == 0:
                break
            await asyncio.sleep(0.02)
        counts = await stats(client)

    assert counts["webhook_failures"] == 2  # sent and delivered


async def test_reset_cancels_webhooks_not_yet_posted(make_client, webhook_receiver):
    config = {**FAST_AND_CHATTY, "delivered_after_seconds": 0.2, "sent_status": False}
    async with make_client(cloud_webhook_url=webhook_receiver.url, **config) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await client.post("/_sim/reset")
        await asyncio.sleep(0.3)

    assert webhook_receiver.received == []


async def test_backlogged_cloud_statuses_are_batched_into_one_post(webhook_receiver):
    config = SimulatorConfig(cloud_webhook_url=webhook_receiver.url)
    poster = WebhookPoster(lambda: config)
    await poster.start()
    try:
        for index in range(30):
            poster.enqueue(
                StatusEvent(
                    dialect=Dialect.CLOUD,
                    sender="1234567890" if index % 2 else "999",
                    recipient=f"55119000000{index:02d}",
                    provider_message_id=f"wamid.{index}",
                    status="delivered",
                    at=1_700_000_000.0,
                )
            )
        (webhook,) = await webhook_receiver.wait_for(1)
        await asyncio.sleep(0.05)
    finally:
        await poster.stop()

    assert len(webhook_receiver.received) == 1
    changes = json.loads(webhook.body)["entry"][0]["changes"]
    by_number = {
        change["value"]["metadata"]["phone_number_id"]: change["value"]["statuses"]
        for change in changes
    }
    assert sorted(by_number) == ["1234567890", "999"]
    assert sum(len(statuses) for statuses in by_number.values()) == 30
    assert poster.posted == 30
