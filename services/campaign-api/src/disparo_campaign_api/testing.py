"""Test helpers for campaign-api's suites: the app with its lifespan, and what it published.

Used with the kernel's fixtures (``kernel_settings``, ``db``, ``eventually``)::

    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, *MESSAGES_REQUESTED_SUBJECTS) as seen,
    ):
        await client.post("/v1/messages", json=..., headers={"Idempotency-Key": "k1"})
        await eventually(lambda: seen.count())
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import nats
from litestar.testing import AsyncTestClient

from disparo_campaign_api.app import create_app
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.events import MessageKind, SentMessage
from disparo_shared.http import API_KEY_HEADER
from disparo_shared.runtime import KernelSettings
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import TEST_API_KEY

AUTH = {API_KEY_HEADER: TEST_API_KEY}


@asynccontextmanager
async def api_client(
    kernel_settings: KernelSettings, settings: CampaignApiSettings | None = None
) -> AsyncIterator[AsyncTestClient]:
    """The running app (migrations, broker, relay, workers);
    requests carry no API key by default.
    """
    app = create_app(kernel_settings, settings or CampaignApiSettings())
    async with AsyncTestClient(app=app, timeout=30) as client:
        yield client


class Observed:
    """Payloads published on the observed subjects of the test's prefix, in arrival order,
    with each one's ``Nats-Msg-Id`` and unprefixed subject."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.subjects: list[str] = []

    async def count(self) -> int:
        return len(self.events)


@asynccontextmanager
async def observe(kernel_settings: KernelSettings, *subjects: str) -> AsyncIterator[Observed]:
    """Every message of ``subjects`` in their streams, from the first (an ordered JetStream
    consumer per subject: requests come on two, ``MESSAGES_REQUESTED_SUBJECTS``).

    Enter it after the app started (the app declares the streams). Messages are counted once per
    stream sequence, so a duplicate publish that JetStream accepted would show twice.
    """
    observed = Observed()
    prefix = kernel_settings.nats.stream_prefix
    nc = await nats.connect(kernel_settings.nats.url)

    async def collect(msg: Any) -> None:
        observed.events.append(json.loads(msg.data))
        observed.ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        observed.subjects.append(msg.subject.removeprefix(prefix))

    try:
        js = nc.jetstream()
        for subject in subjects:
            await js.subscribe(qualified(prefix, subject), cb=collect, ordered_consumer=True)
        yield observed
    finally:
        await nc.close()


async def outbox_is_empty(db: asyncpg.Connection) -> bool:
    """True once the relay published everything campaign-api staged."""
    return await db.fetchval("SELECT count(*) FROM campaign_api.outbox") == 0


async def publish_event(kernel_settings: KernelSettings, event: Any) -> None:
    """Publish a kernel event as its producer's relay would (with ``Nats-Msg-Id``)."""
    nc = await nats.connect(kernel_settings.nats.url)
    try:
        await nc.jetstream().publish(
            qualified(kernel_settings.nats.stream_prefix, event.publish_subject),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )
    finally:
        await nc.close()


def sent_message(
    message_id: UUID | str,
    sent_at: datetime,
    *,
    campaign_id: UUID | str | None = None,
    contact_id: UUID | str | None = None,
    conversation_id: UUID | str | None = None,
) -> SentMessage:
    """One item of a ``MessagesSent`` batch; the provider's details, which campaign-api does not
    read, are filled in."""
    return SentMessage(
        message_id=message_id,
        campaign_id=campaign_id,
        contact_id=contact_id,
        conversation_id=conversation_id,
        kind=MessageKind.CAMPAIGN if campaign_id else MessageKind.REPLY,
        provider_message_id=f"wamid.{message_id}",
        sender="sender-1",
        attempt=1,
        sent_at=sent_at,
    )
