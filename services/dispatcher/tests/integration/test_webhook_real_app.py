"""The webhook routes inside the real dispatcher app: open to providers, facts reach JetStream."""

import json
from datetime import UTC, datetime
from uuid import uuid4

import nats
from litestar.testing import AsyncTestClient
from nats.js.errors import NotFoundError

from disparo_dispatcher.app import create_app
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.webhooks.verification import cloud_signature
from disparo_shared.events import subjects
from disparo_shared.streams import qualified, stream_name
from disparo_shared.testing.fixtures import eventually


async def test_signed_cloud_status_becomes_a_published_delivered_event(kernel_settings, db):
    message_id = uuid4()
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO dispatcher.messages (message_id, idempotency_key, phone, kind, body, priority,"
        " time_zone, state, due_at, rank_at, attempt, max_attempts, provider_message_id,"
        " requested_at, enqueued_at, sent_at)"
        " VALUES ($1, $2, '+5511987654321', 'campaign', 'Oi', 5, 'America/Sao_Paulo', 'sent',"
        " $3, $3, 1, 5, 'wamid.REAL', $3, $3, $3)",
        message_id,
        str(message_id),
        now,
    )
    status = {"id": "wamid.REAL", "status": "delivered", "timestamp": "1764108000"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "1"},
        "statuses": [status],
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()

    app = create_app(kernel_settings, DispatcherSettings())
    async with AsyncTestClient(app) as client:
        response = await client.post(
            "/webhooks/cloud",
            content=body,
            headers={"X-Hub-Signature-256": cloud_signature("sim-app-secret", body)},
        )  # no X-API-Key: providers cannot send one
        assert response.status_code == 200, response.text
        handshake = await client.get(
            "/webhooks/cloud",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "disparo-verify",
                "hub.challenge": "42",
            },
        )
        assert handshake.text == "42"

        prefix = kernel_settings.nats.stream_prefix
        nc = await nats.connect(kernel_settings.nats.url)
        try:
            js = nc.jetstream()

            async def published():
                try:
                    return await js.get_last_msg(
                        stream_name(prefix, subjects.STREAM_MESSAGES),
                        qualified(prefix, subjects.MESSAGE_DELIVERED),
                    )
                except NotFoundError:
                    return None

            message = await eventually(published)
        finally:
            await nc.close()
    delivered = json.loads(message.data)
    assert (delivered["message_id"], delivered["provider_message_id"]) == (
        str(message_id),
        "wamid.REAL",
    )
