"""A NATS outage does not turn Evolution's one-shot webhooks away: stored, published on return.

The dispatcher runs against a NATS server of this test's own (never the shared one), which is
stopped while a doctor's reply arrives by webhook: the dispatcher stays ready, answers 200, keeps
the fact in its outbox, and publishes it once NATS is back on the same port and store.
"""

import json
from dataclasses import replace

import nats
import pytest
from litestar.testing import AsyncTestClient
from nats.js.errors import NotFoundError

from disparo.embedded import EmbeddedNats
from disparo_dispatcher.app import create_app
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.events import subjects
from disparo_shared.streams import qualified, stream_name
from disparo_shared.testing.fixtures import eventually

EVOLUTION_KEY = "sim-evolution-key"


def _reply(key_id: str) -> dict:
    return {
        "event": "messages.upsert",
        "instance": "sim-evolution-1",
        "data": {
            "key": {"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": False, "id": key_id},
            "pushName": "Dra. Ana",
            "message": {"conversation": "Tenho interesse no plantão"},
            "messageType": "conversation",
            "messageTimestamp": 1764108000,
        },
        "apikey": EVOLUTION_KEY,
    }


@pytest.fixture
def own_nats(tmp_path):
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


async def test_a_webhook_during_a_nats_outage_is_kept_and_published_when_nats_returns(
    kernel_settings, db, own_nats
):
    settings = replace(
        kernel_settings, nats=kernel_settings.nats.model_copy(update={"url": own_nats.url})
    )
    prefix = settings.nats.stream_prefix
    app = create_app(settings, DispatcherSettings())
    async with AsyncTestClient(app) as client:
        own_nats.stop()

        ready = await client.get("/ready")
        answer = await client.post("/webhooks/evolution", json=_reply("3EB0OUTAGE0000000001"))

        assert ready.status_code == 200 and ready.json()["degraded"] == ["nats"]
        assert answer.status_code == 200, answer.text
        kept = await db.fetchval(
            "SELECT count(*) FROM dispatcher.outbox WHERE subject = $1", subjects.MESSAGE_RECEIVED
        )
        assert kept == 1

        own_nats.start()  # same port, same store
        nc = await nats.connect(own_nats.url)
        try:
            js = nc.jetstream()

            async def published():
                try:
                    return await js.get_last_msg(
                        stream_name(prefix, subjects.STREAM_MESSAGES),
                        qualified(prefix, subjects.MESSAGE_RECEIVED),
                    )
                except NotFoundError:
                    return None

            message = await eventually(published, timeout=30)
        finally:
            await nc.close()
        assert (await client.get("/ready")).json()["degraded"] == []
    assert json.loads(message.data)["body"] == "Tenho interesse no plantão"
