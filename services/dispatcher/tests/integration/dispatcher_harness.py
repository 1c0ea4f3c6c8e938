"""Test support for the send queue: the real simulator and real dispatcher replicas, in-process.

The simulator is served over HTTP by uvicorn on a free port; each dispatcher replica is the
real app with its lifespan running (migrations, pool, NATS, outbox relay, send loop), driven
through NATS events and its HTTP API. Timings are shrunk so the suite stays fast.
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import time
from typing import Any
from uuid import uuid4

import asyncpg
import nats
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from disparo_dispatcher.app import create_app
from disparo_dispatcher.settings import DispatcherSettings, SenderSeed
from disparo_shared.events import Event, MessagesRequested, MessageTemplate, RequestedMessage
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import TEST_API_KEY
from disparo_simulator.app import create_app as create_simulator
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.settings import SimulatorSettings
from disparo_simulator.templates import TemplateSpec

EVOLUTION_KEY = "sim-evolution-key"
CLOUD_TOKEN = "sim-cloud-token"
HEADERS = {"X-API-Key": TEST_API_KEY}

FAST = dict(
    sender_lease_seconds=2.0,
    sender_lease_renew_seconds=0.25,
    message_lease_seconds=5.0,
    typing_indicator=False,
    claim_interval_seconds=0.02,
    flush_interval_seconds=0.02,
    metrics_refresh_seconds=0.5,
    retry_base_seconds=0.05,
    retry_max_seconds=0.2,
    pair_spacing_seconds=0.3,
    provider_timeout_seconds=2.0,
    # A doubtful send without an echo (the harness simulator posts no webhooks) is resent soon.
    in_doubt_grace_seconds=1.0,
    in_doubt_lookup_after_seconds=0.3,
    provider_processing_horizon_seconds=1.0,
    in_doubt_resolve_interval_seconds=0.1,
    # Always open, so the suite passes at any hour; quiet hours have their own tests.
    send_window_start=time(0, 0),
    send_window_end=time(23, 59, 59, 999999),
    send_on_weekdays=[0, 1, 2, 3, 4, 5, 6],
)


@dataclass
class Simulator:
    url: str
    provider: SimulatedProvider

    def stats(self) -> dict[str, Any]:
        return self.provider.stats.as_json()

    def sends(self) -> list:
        return list(self.provider.log._sends)


async def _serve(app: Litestar) -> tuple[uvicorn.Server, asyncio.Task, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def simulator(**settings: Any) -> AsyncIterator[Simulator]:
    # The 24 h window is off unless a test turns it on: most tests send free text to doctors
    # who never wrote; the window's tests set ``cloud_require_window=True``.
    values = {"pair_spacing_seconds": 0.3, "seed": 7, "cloud_require_window": False, **settings}
    sim_settings = SimulatorSettings(**values)
    app = create_simulator(sim_settings)
    app.state.provider.templates.register(
        TemplateSpec(name=TEMPLATE.name, language=TEMPLATE.language, body="Olá, doutora!"),
        sim_settings.cloud_waba_id,
    )
    server, task, url = await _serve(app)
    try:
        yield Simulator(url, app.state.provider)
    finally:
        server.should_exit = True
        await task


def evolution_sender(sim: Simulator, sender_id: str, **limits: Any) -> SenderSeed:
    return SenderSeed(
        sender_id=sender_id,
        provider="evolution",
        address=sender_id,
        base_url=sim.url,
        credential_ref=EVOLUTION_KEY,
        **limits,
    )


def cloud_sender(sim: Simulator, sender_id: str, phone_number_id: str, **limits: Any) -> SenderSeed:
    return SenderSeed(
        sender_id=sender_id,
        provider="cloud",
        address=phone_number_id,
        base_url=f"{sim.url}/v21.0",
        credential_ref=CLOUD_TOKEN,
        **limits,
    )


@asynccontextmanager
async def dispatcher(
    kernel: KernelSettings, senders: list[SenderSeed], **overrides: Any
) -> AsyncIterator[AsyncTestClient]:
    """One dispatcher replica, started and stopped cleanly; yields its HTTP client."""
    settings = DispatcherSettings(senders=senders, **{**FAST, **overrides})
    app = create_app(kernel, settings)
    async with AsyncTestClient(app) as client:
        client.headers.update(HEADERS)
        yield client


def message(phone: str, body: str = "Olá, doutora!", **fields: Any) -> RequestedMessage:
    message_id = fields.pop("message_id", uuid4())
    return RequestedMessage(
        message_id=message_id,
        idempotency_key=fields.pop("idempotency_key", f"test:{message_id}"),
        phone=phone,
        kind=fields.pop("kind", "campaign"),
        body=body,
        **fields,
    )


TEMPLATE = MessageTemplate(name="aviso_plantao", language="pt_BR")
"""A template without parameters, for tests whose Cloud doctors never wrote; ``simulator``
registers it in the simulated account."""


async def doctors_wrote(db: asyncpg.Connection, sender_id: str, *phones: str) -> None:
    """As if each doctor had just written to ``sender_id``: their 24 h windows are open, so the
    dispatcher may send them free text through that Cloud number."""
    await db.executemany(
        "INSERT INTO dispatcher.conversation_windows (sender_id, phone, last_inbound_at) "
        "VALUES ($1, $2, now()) ON CONFLICT (sender_id, phone) DO UPDATE "
        "SET last_inbound_at = now()",
        [(sender_id, p) for p in phones],
    )


def phone(n: int) -> str:
    """A distinct valid Brazilian mobile per ``n`` (São Paulo area code)."""
    return f"+55119{n:08d}"


async def publish(nats_settings: NatsSettings, *events: Event) -> None:
    nc = await nats.connect(nats_settings.url)
    try:
        js = nc.jetstream()
        for event in events:
            await js.publish(
                qualified(nats_settings.stream_prefix, event.publish_subject),
                json.dumps(event.model_dump(mode="json")).encode(),
                headers={"Nats-Msg-Id": str(event.event_id)},
            )
    finally:
        await nc.close()


async def request(nats_settings: NatsSettings, *messages: RequestedMessage) -> MessagesRequested:
    event = MessagesRequested(messages=list(messages))
    await publish(nats_settings, event)
    return event


async def states(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT state, count(*) AS n FROM dispatcher.all_messages GROUP BY state")
    return {row["state"]: row["n"] for row in rows}


async def outbox_subjects(db: asyncpg.Connection) -> list[str]:
    """Subjects staged in the outbox (the relay deletes published ones; see ``published``)."""
    return [r["subject"] for r in await db.fetch("SELECT subject FROM dispatcher.outbox")]


@asynccontextmanager
async def collect(
    nats_settings: NatsSettings, subject: str, items: str | None = None
) -> AsyncIterator[list[dict]]:
    """Collect the payloads published on ``subject`` (core NATS) while the block runs; with
    ``items``, the entries of each payload's list of that name instead."""
    nc = await nats.connect(nats_settings.url)
    received: list[dict] = []

    async def on_message(msg) -> None:
        payload = json.loads(msg.data)
        received.extend(payload[items] if items else [payload])

    await nc.subscribe(qualified(nats_settings.stream_prefix, subject), cb=on_message)
    try:
        yield received
    finally:
        await nc.close()


def collect_sent(nats_settings: NatsSettings):
    """Collect the sends told on ``message.sent`` while the block runs, one dict per send (an
    event carries a flush's sends)."""
    return collect(nats_settings, "message.sent", items="messages")


@asynccontextmanager
async def served_dispatcher(
    kernel: KernelSettings, senders: list[SenderSeed], **overrides: Any
) -> AsyncIterator[str]:
    """One dispatcher replica served over HTTP (so the simulator can post webhooks to it);
    yields its base URL."""
    settings = DispatcherSettings(senders=senders, **{**FAST, **overrides})
    server, task, url = await _serve(create_app(kernel, settings))
    try:
        yield url
    finally:
        server.should_exit = True
        await task
