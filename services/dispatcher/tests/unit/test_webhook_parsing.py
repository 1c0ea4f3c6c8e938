"""Webhook payloads of both providers → updates; and the proofs they come from the provider."""

from datetime import UTC, datetime
from uuid import uuid4

from disparo_dispatcher.webhooks.cloud import parse_cloud_webhook
from disparo_dispatcher.webhooks.evolution import parse_evolution_webhook
from disparo_dispatcher.webhooks.updates import DeliveryStatus
from disparo_dispatcher.webhooks.verification import (
    cloud_handshake_challenge,
    cloud_signature,
    cloud_signature_is_valid,
    evolution_key_is_valid,
)

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def cloud_payload(**value) -> dict:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "123"}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
    }


def test_cloud_batch_keeps_delivered_read_failed_and_skips_sent():
    message_id = uuid4()
    batch = parse_cloud_webhook(
        cloud_payload(
            statuses=[
                {"id": "a", "status": "sent", "timestamp": "1"},
                {
                    "id": "a",
                    "status": "delivered",
                    "timestamp": "1764108000",
                    "biz_opaque_callback_data": str(message_id),
                },
                {"id": "b", "status": "read", "timestamp": "1764108001"},
                {
                    "id": "c",
                    "status": "failed",
                    "timestamp": "x",
                    "errors": [{"code": 131050, "title": "opted out"}],
                },
            ]
        ),
        clock,
    )
    assert [(s.provider_message_id, s.status) for s in batch.statuses] == [
        ("a", DeliveryStatus.DELIVERED),
        ("b", DeliveryStatus.READ),
        ("c", DeliveryStatus.FAILED),
    ]
    delivered, _, failed = batch.statuses
    assert (delivered.message_id, delivered.address) == (message_id, "123")
    assert delivered.at == datetime(2025, 11, 25, 22, 0, tzinfo=UTC)
    assert (failed.error_code, failed.error, failed.at) == ("131050", "opted out", NOW)


def test_cloud_inbound_kinds_get_bodies_or_placeholders():
    messages = [
        {"from": "5511987654321", "id": "1", "type": "text", "text": {"body": "Sim"}},
        {"from": "5511987654321", "id": "2", "type": "image", "image": {"caption": "meu CRM"}},
        {"from": "5511987654321", "id": "3", "type": "audio", "audio": {"id": "m"}},
        {
            "from": "5511987654321",
            "id": "4",
            "type": "interactive",
            "interactive": {"button_reply": {"id": "y", "title": "Aceito"}},
        },
        {"from": "5511987654321", "id": "5", "type": "button", "button": {"text": "Parar"}},
        {
            "from": "5511987654321",
            "id": "6",
            "type": "system",
            "system": {"body": "changed number"},
        },
        {"from": "not-a-phone", "id": "7", "type": "text", "text": {"body": "?"}},
    ]
    batch = parse_cloud_webhook(cloud_payload(messages=messages), clock)
    assert [m.body for m in batch.inbound] == [
        "Sim",
        "[image] meu CRM",
        "[audio]",
        "Aceito",
        "Parar",
    ]
    assert {m.phone for m in batch.inbound} == {"+5511987654321"}


def test_cloud_nonsense_parses_to_nothing():
    assert not parse_cloud_webhook({"object": "page", "entry": "x"}, clock)
    assert not parse_cloud_webhook({}, clock)


def test_evolution_v1_numeric_statuses_in_a_list():
    payload = {
        "event": "MESSAGES_UPDATE",
        "instance": "recife-01",
        "data": [
            {"key": {"id": "A", "fromMe": True}, "update": {"status": 3}},
            {"key": {"id": "B", "fromMe": True}, "update": {"status": 4}},
            {"key": {"id": "C", "fromMe": True}, "update": {"status": 2}},  # server ack
            {"key": {"id": "D", "fromMe": False}, "update": {"status": 4}},  # we read theirs
        ],
    }
    batch = parse_evolution_webhook(payload, clock)
    assert [(s.provider_message_id, s.status, s.address) for s in batch.statuses] == [
        ("A", DeliveryStatus.DELIVERED, "recife-01"),
        ("B", DeliveryStatus.READ, "recife-01"),
    ]


def test_evolution_played_voice_note_counts_as_read_and_error_as_failed():
    def update(status: str) -> dict:
        return {
            "event": "messages.update",
            "instance": "i",
            "date_time": "2026-11-25T22:00:00.000Z",
            "data": {"keyId": "K", "fromMe": True, "status": status},
        }

    assert (
        parse_evolution_webhook(update("PLAYED"), clock).statuses[0].status is DeliveryStatus.READ
    )
    failed = parse_evolution_webhook(update("ERROR"), clock).statuses[0]
    assert (failed.status, failed.error_code, failed.at) == (
        DeliveryStatus.FAILED,
        "evolution_error",
        NOW,
    )


def test_evolution_inbound_skips_groups_and_resolves_lid_senders():
    def upsert(key: dict, message: dict, message_type: str = "conversation") -> dict:
        return {
            "event": "messages.upsert",
            "instance": "i",
            "data": {
                "key": {"fromMe": False, "id": str(uuid4()), **key},
                "message": message,
                "messageType": message_type,
                "messageTimestamp": 1764108000,
            },
        }

    group = upsert({"remoteJid": "1203630@g.us"}, {"conversation": "oi grupo"})
    lid = upsert(
        {"remoteJid": "8812345@lid", "senderPn": "5511987654321@s.whatsapp.net"},
        {"extendedTextMessage": {"text": "com link"}},
        "extendedTextMessage",
    )
    image = upsert(
        {"remoteJid": "5511987654321@s.whatsapp.net"},
        {"imageMessage": {"caption": "foto"}},
        "imageMessage",
    )
    sticker = upsert(
        {"remoteJid": "5511987654321@s.whatsapp.net"}, {"stickerMessage": {}}, "stickerMessage"
    )

    assert not parse_evolution_webhook(group, clock)
    assert [m.body for m in parse_evolution_webhook(lid, clock).inbound] == ["com link"]
    assert parse_evolution_webhook(image, clock).inbound[0].body == "[image] foto"
    assert parse_evolution_webhook(sticker, clock).inbound[0].body == "[sticker]"


def test_cloud_signature_must_match_the_exact_body():
    body = b'{"object":"whatsapp_business_account"}'
    good = cloud_signature("s3cret", body)
    assert cloud_signature_is_valid("s3cret", body, good)
    assert not cloud_signature_is_valid("s3cret", body + b" ", good)
    assert not cloud_signature_is_valid("other", body, good)
    assert not cloud_signature_is_valid("s3cret", body, None)
    assert not cloud_signature_is_valid("s3cret", body, good.removeprefix("sha256="))


def test_evolution_key_from_header_or_body():
    assert evolution_key_is_valid("k", None, "k")
    assert evolution_key_is_valid("k", "k", None)
    assert not evolution_key_is_valid("k", "x", None)
    assert not evolution_key_is_valid("k", None, 42)


def test_handshake_requires_subscribe_and_our_token():
    assert cloud_handshake_challenge("t", "subscribe", "t", "123") == "123"
    assert cloud_handshake_challenge("t", "subscribe", "x", "123") is None
    assert cloud_handshake_challenge("t", "unsubscribe", "t", "123") is None
    assert cloud_handshake_challenge("t", "subscribe", "t", None) is None
