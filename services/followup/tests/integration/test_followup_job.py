"""Followup against real Postgres and NATS: events in, the job's requests out on the stream."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from followup_harness import T0, Clock, Publish, one_sent, requested_followups
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from disparo_followup.job import request_due_followups
from disparo_followup.rules import ConversationState, due_followup
from disparo_followup.scheduler import run_slot_if_due
from disparo_followup.settings import FollowupSettings
from disparo_followup.texts import DEFAULT_TEXTS, pick_variant, render
from disparo_shared.db import create_pool
from disparo_shared.events import (
    ContactOptedOut,
    Controller,
    ConversationStage,
    ConversationStageChanged,
    MessageKind,
    MessageReceived,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
    campaign_conversation_id,
    subjects,
)
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DatabaseSettings
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import eventually


def stage_changed(conversation_id: UUID, phone: str, **overrides) -> ConversationStageChanged:
    fields = {
        "conversation_id": conversation_id,
        "contact_id": uuid4(),
        "phone": phone,
        "contact_name": "Maria Souza",
        "stage": ConversationStage.PRIMEIRO_CONTATO,
        "controlled_by": Controller.AUTOMATION,
        "occurred_at": T0 - timedelta(minutes=1),
    }
    return ConversationStageChanged(**{**fields, **overrides})


def sent_in(conversation_id: UUID, at: datetime) -> MessagesSent:
    return one_sent(uuid4(), conversation_id, MessageKind.FIRST_CONTACT, at, occurred_at=at)


async def conversation(client: AsyncTestClient, conversation_id: UUID, predicate) -> dict:
    async def check():
        response = await client.get(f"/v1/conversations/{conversation_id}")
        return response.status_code == 200 and predicate(response.json()) and response.json()

    return await eventually(check)


async def test_the_job_requests_each_due_followup_once_even_when_run_twice(
    client: AsyncTestClient,
    publish: Publish,
    js: JetStreamContext,
    clock: Clock,
    kernel_settings: KernelSettings,
    db: asyncpg.Connection,
) -> None:
    due, replied, human, opted_out = uuid4(), uuid4(), uuid4(), uuid4()
    phones = {
        due: "+5511911110001",
        replied: "+5511911110002",
        human: "+5511911110003",
        opted_out: "+5511911110004",
    }
    for conversation_id, phone in phones.items():
        controlled_by = Controller.HUMAN if conversation_id == human else Controller.AUTOMATION
        await publish(stage_changed(conversation_id, phone, controlled_by=controlled_by))
        await publish(sent_in(conversation_id, T0))
    await publish(
        MessageReceived(
            phone=phones[replied],
            sender="sender-1",
            body="Oi",
            provider_message_id="in",
            at=T0 + timedelta(hours=1),
        )
    )
    await publish(
        ContactOptedOut(
            phone=phones[opted_out], reason="PARAR", occurred_at=T0 + timedelta(hours=2)
        )
    )
    for conversation_id in phones:
        await conversation(
            client, conversation_id, lambda c: c["state"]["last_outbound_at"] is not None
        )
    await conversation(client, replied, lambda c: c["state"]["last_inbound_at"] is not None)
    await conversation(client, opted_out, lambda c: c["state"]["opted_out"])

    clock.now = T0 + timedelta(days=3)
    first = (await client.post("/v1/admin/followups/run")).json()
    second = (await client.post("/v1/admin/followups/run")).json()
    assert first["requested"] == 1
    assert first["by_stage"] == {"primeiro_contato": 1}
    assert second["requested"] == 0

    prefix = kernel_settings.nats.stream_prefix

    async def outbox_published() -> bool:
        return await db.fetchval("SELECT count(*) FROM followup.outbox") == 0

    await eventually(outbox_published)
    requested = await requested_followups(js, prefix)
    assert len(requested) == 1
    assert requested[0]["conversation_id"] == str(due)
    assert requested[0]["kind"] == "followup"
    assert requested[0]["phone"] == phones[due]
    first_attempt = DEFAULT_TEXTS[ConversationStage.PRIMEIRO_CONTATO][0]
    assert requested[0]["body"] == render(pick_variant(first_attempt, due, 1), "Maria Souza")
    assert requested[0]["body"].startswith(("Oi Maria Souza", "Maria Souza"))
    assert requested[0]["idempotency_key"] == f"followup:{due}:primeiro_contato:1"


async def test_the_cadence_follows_the_sends_and_stops_at_the_cap(
    client: AsyncTestClient, publish: Publish, clock: Clock
) -> None:
    conversation_id = uuid4()
    await publish(stage_changed(conversation_id, "+5511922220001"))
    await publish(sent_in(conversation_id, T0))
    await conversation(
        client, conversation_id, lambda c: c["state"]["last_outbound_at"] is not None
    )

    clock.now = T0 + timedelta(days=3)
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 1
    view = await conversation(client, conversation_id, lambda c: True)
    assert view["due_followup"] is None  # waiting for the first follow-up to go out

    first_sent = T0 + timedelta(days=3, minutes=1)
    await publish(sent_in(conversation_id, first_sent))
    await conversation(
        client,
        conversation_id,
        lambda c: (
            c["state"]["followups_in_stage"] == 1
            and c["state"]["last_outbound_at"].startswith("2026-03-05")
        ),
    )
    clock.now = first_sent + timedelta(days=3) - timedelta(seconds=1)
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 0
    clock.now = first_sent + timedelta(days=3)
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 1

    await publish(sent_in(conversation_id, clock.now + timedelta(minutes=1)))
    await conversation(
        client,
        conversation_id,
        lambda c: (
            c["state"]["followups_in_stage"] == 2
            and c["state"]["last_outbound_at"].startswith("2026-03-08")
        ),
    )
    clock.now = clock.now + timedelta(days=30)
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 0

    await publish(
        stage_changed(
            conversation_id,
            "+5511922220001",
            stage=ConversationStage.POS_INTERESSE,
            occurred_at=clock.now - timedelta(days=2),
        )
    )
    await conversation(client, conversation_id, lambda c: c["state"]["stage"] == "pos_interesse")
    summary = (await client.post("/v1/admin/followups/run")).json()
    assert (summary["requested"], summary["by_stage"]) == (1, {"pos_interesse": 1})


async def test_a_campaign_conversation_is_learned_from_the_messages_that_flow(
    client: AsyncTestClient,
    publish: Publish,
    js: JetStreamContext,
    clock: Clock,
    kernel_settings: KernelSettings,
    db: asyncpg.Connection,
) -> None:
    """No stage event: the campaign's request and its sent fact are all followup needs."""
    campaign_id, contact_id = uuid4(), uuid4()
    conversation_id = campaign_conversation_id(campaign_id, contact_id)
    phone = "+5511933330001"
    requested = RequestedMessage(
        message_id=uuid4(),
        idempotency_key=f"campaign:{campaign_id}:{contact_id}",
        contact_id=contact_id,
        phone=phone,
        kind=MessageKind.CAMPAIGN,
        body="Olá! Temos plantões no ABC.",
        campaign_id=campaign_id,
        conversation_id=conversation_id,
        contact_name="Ana Lima",
    )
    await publish(MessagesRequested(messages=[requested], occurred_at=T0 - timedelta(minutes=5)))
    sent = sent_in(conversation_id, T0)
    await publish(sent.model_copy(update={"campaign_id": campaign_id, "contact_id": contact_id}))
    view = await conversation(
        client,
        conversation_id,
        lambda c: c["state"]["last_outbound_at"] is not None and c["state"]["stage"] is not None,
    )
    assert view["state"]["stage"] == "primeiro_contato"
    assert view["state"]["controlled_by"] == "automation"

    clock.now = T0 + timedelta(days=3)
    summary = (await client.post("/v1/admin/followups/run")).json()
    assert summary["by_stage"] == {"primeiro_contato": 1}

    async def outbox_published() -> bool:
        return await db.fetchval("SELECT count(*) FROM followup.outbox") == 0

    await eventually(outbox_published)
    followups = [
        m
        for m in await requested_followups(js, kernel_settings.nats.stream_prefix)
        if m["kind"] == "followup"
    ]
    assert len(followups) == 1
    assert followups[0]["conversation_id"] == str(conversation_id)
    assert followups[0]["campaign_id"] == str(campaign_id)
    assert followups[0]["phone"] == phone
    assert followups[0]["priority"] == 4  # the spec's: campaigns 3, follow-ups 4, replies 8+
    assert "Ana Lima" in followups[0]["body"]


async def test_a_conversation_is_learned_from_an_urgent_request_too(
    publish: Publish, db: asyncpg.Connection
) -> None:
    """A reply's request travels on ``messages.requested.urgent``, read by a consumer of its own."""
    conversation_id = uuid4()
    reply = RequestedMessage(
        message_id=uuid4(),
        idempotency_key=f"client:{uuid4()}",
        phone="+5511933330002",
        kind=MessageKind.REPLY,
        body="Sim, o plantão é no sábado.",
        priority=8,
        conversation_id=conversation_id,
        contact_name="Bruno Reis",
    )
    request = MessagesRequested(messages=[reply], occurred_at=T0)
    assert request.publish_subject == subjects.MESSAGES_REQUESTED_URGENT
    await publish(request)

    async def learned():
        return await db.fetchrow(
            "SELECT kind, contact_name FROM followup.conversations WHERE conversation_id = $1",
            conversation_id,
        )

    row = await eventually(learned)
    assert (row["kind"], row["contact_name"]) == ("reply", "Bruno Reis")


async def test_the_recruiter_systems_older_words_still_move_a_conversation(
    client: AsyncTestClient, js: JetStreamContext, kernel_settings: KernelSettings
) -> None:
    conversation_id = uuid4()
    body = stage_changed(conversation_id, "+5511933330002").model_dump(mode="json")
    body.update(stage="offer_made", controlled_by="ai")
    await js.publish(
        qualified(kernel_settings.nats.stream_prefix, ConversationStageChanged.subject),
        json.dumps(body).encode(),
    )
    view = await conversation(client, conversation_id, lambda c: True)
    assert view["state"]["stage"] == "pos_oferta"
    assert view["state"]["controlled_by"] == "automation"


async def test_unknown_conversation_is_a_404_problem(client: AsyncTestClient) -> None:
    response = await client.get(f"/v1/conversations/{uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_job_query_agrees_with_the_rules(database_url: str) -> None:
    """Every combination of the facts the rules look at, decided by SQL and by rules.py."""
    settings = FollowupSettings(batch_size=50)
    rules = settings.followup_rules()
    now = T0 + timedelta(days=10)
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "followup"
    )
    try:
        expected: dict[UUID, int | None] = {}
        async with pool.acquire() as conn:
            for i, (stage, controller, inbound, opted, done, age) in enumerate(
                itertools.product(
                    list(ConversationStage),
                    list(Controller),
                    (None, "before", "after"),
                    (False, True),
                    (0, 1, 2),
                    (timedelta(hours=20), timedelta(days=2), timedelta(days=4)),
                )
            ):
                conversation_id, phone = uuid4(), f"+55119{i:08d}"
                outbound = now - age
                inbound_at = {
                    None: None,
                    "before": outbound - timedelta(hours=1),
                    "after": outbound + timedelta(hours=1),
                }[inbound]
                await _insert_state(
                    conn,
                    conversation_id,
                    phone,
                    stage,
                    controller,
                    outbound,
                    inbound_at,
                    opted,
                    done,
                )
                state = ConversationState(
                    stage,
                    controller,
                    outbound,
                    inbound_at,
                    done,
                    outbound - timedelta(days=1) if done else None,
                    opted,
                )
                expected[conversation_id] = due_followup(state, rules, now)
        await request_due_followups(pool, settings, now)
        rows = await pool.fetch(
            "SELECT conversation_id, n FROM followups WHERE requested_at = $1", now
        )
        actual = {r["conversation_id"]: r["n"] for r in rows}
        assert actual == {k: v for k, v in expected.items() if v is not None}
        assert len(actual) > 0
    finally:
        await pool.close()


async def _insert_state(
    conn: asyncpg.Connection,
    conversation_id: UUID,
    phone: str,
    stage: ConversationStage,
    controller: Controller,
    outbound: datetime,
    inbound: datetime | None,
    opted_out: bool,
    followups: int,
) -> None:
    await conn.execute(
        "INSERT INTO conversations (conversation_id, contact_id, phone, stage, controlled_by,"
        " last_outbound_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        conversation_id,
        uuid4(),
        phone,
        stage.value,
        controller.value,
        outbound,
    )
    await conn.execute(
        "INSERT INTO phones (phone, last_inbound_at, opted_out) VALUES ($1, $2, $3)",
        phone,
        inbound,
        opted_out,
    )
    for n in range(1, followups + 1):
        await conn.execute(
            "INSERT INTO followups (conversation_id, stage, n, message_id, requested_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            conversation_id,
            stage.value,
            n,
            uuid4(),
            outbound - timedelta(days=1),
        )


async def test_each_daily_slot_runs_once_and_a_late_start_catches_up_only_briefly(
    database_url: str,
) -> None:
    settings = FollowupSettings(catch_up_hours=4)
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "followup"
    )
    ten_local = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 10:00 in São Paulo
    try:
        assert await run_slot_if_due(pool, settings, ten_local + timedelta(seconds=30)) is not None
        assert await run_slot_if_due(pool, settings, ten_local + timedelta(minutes=1)) is None
        assert (
            await run_slot_if_due(pool, settings, ten_local + timedelta(days=1, hours=3))
            is not None
        )
        assert await run_slot_if_due(pool, settings, ten_local + timedelta(days=2, hours=5)) is None
        slots = await pool.fetch("SELECT slot, requested FROM job_runs ORDER BY slot")
        assert [(r["slot"], r["requested"]) for r in slots] == [
            (ten_local, 0),
            (ten_local + timedelta(days=1), 0),
        ]
    finally:
        await pool.close()
