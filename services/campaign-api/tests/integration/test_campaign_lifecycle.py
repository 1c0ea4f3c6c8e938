"""Campaign commands against real Postgres: 409s, events through the outbox, idempotent start."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from disparo_campaign_api.campaigns.handlers import (
    SQL,
    CampaignFields,
    CreateCampaign,
    cancel_campaign,
    create_campaign,
    get_campaign,
    pause_campaign,
    preview_campaign,
    resume_campaign,
    schedule_campaign,
    start_campaign,
    update_campaign,
)
from disparo_campaign_api.campaigns.scheduler import start_due_campaigns
from disparo_campaign_api.segments.filters import parse_filter
from disparo_campaign_api.segments.handlers import audience_sql, create_segment, delete_segment
from disparo_shared.db import create_pool
from disparo_shared.problems import Problem
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
ABC = {"field": "region", "op": "eq", "value": "ABC"}


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=6), "campaign_api"
    )
    yield pool
    await pool.close()


async def add_contacts(pool, n: int, region: str = "ABC", opted_out: int = 0) -> None:
    await pool.execute(
        "INSERT INTO contacts (phone, name, specialty, region, opted_out_at)"
        " SELECT '+55119' || lpad(g::text, 8, '0'), 'Dra. ' || g, 'Anestesiologia', $2,"
        " CASE WHEN g <= $3 THEN now() END FROM generate_series(1, $1) g",
        n,
        region,
        opted_out,
    )


async def create(pool, **fields) -> dict:
    data = CreateCampaign(
        **{"name": "Plantões", "template": "Olá {primeiro_nome}!", "filter": ABC, **fields}
    )
    async with pool.acquire() as conn, conn.transaction():
        return await create_campaign(conn, data, NOW)


async def run(pool, handler, *args):
    async with pool.acquire() as conn, conn.transaction():
        return await handler(conn, *args)


async def outbox_subjects(pool) -> list[str]:
    return [r["subject"] for r in await pool.fetch("SELECT subject FROM outbox ORDER BY id")]


async def test_lifecycle_publishes_an_event_per_transition(pool):
    await add_contacts(pool, 3)
    campaign = await create(pool)
    cid = UUID(campaign["id"])
    assert campaign["state"] == "draft" and campaign["priority"] == 3  # the spec's default
    assert campaign["max_per_day"] == 50  # the spec's max_por_dia
    assert (await run(pool, schedule_campaign, cid, NOW + timedelta(hours=1), NOW))[
        "state"
    ] == "scheduled"
    assert (await run(pool, start_campaign, cid, NOW))["audience_size"] == 3
    assert (await run(pool, pause_campaign, cid, NOW))["state"] == "paused"
    assert (await run(pool, resume_campaign, cid, NOW))["state"] == "running"
    assert (await run(pool, cancel_campaign, cid, NOW))["state"] == "cancelled"
    assert await outbox_subjects(pool) == [
        "campaign.created",
        "campaign.scheduled",
        "campaign.started",
        "campaign.paused",
        "campaign.resumed",
        "campaign.cancelled",
    ]
    started = await pool.fetchval("SELECT payload FROM outbox WHERE subject = 'campaign.started'")
    assert started["audience_size"] == 3 and started["campaign_id"] == str(cid)


async def test_the_start_tells_the_dispatcher_the_daily_cap_and_send_window(pool):
    await add_contacts(pool, 2)
    campaign = await create(
        pool,
        max_per_day=300,
        send_window={"start_hour": 9, "end_hour": 18, "days": [1, 2, 3, 4, 5]},
    )
    await run(pool, start_campaign, UUID(campaign["id"]), NOW)
    started = await pool.fetchval("SELECT payload FROM outbox WHERE subject = 'campaign.started'")
    assert started["max_per_day"] == 300
    assert started["send_window"] == {
        "start_hour": 9,
        "end_hour": 18,
        "weekdays": [1, 2, 3, 4, 5],
        "time_zone": "America/Sao_Paulo",
    }


ILLEGAL = [
    ([], pause_campaign),
    ([], resume_campaign),
    (["start"], lambda conn, cid, now: update_campaign(conn, cid, CampaignFields(name="x"), now)),
    (["start"], lambda conn, cid, now: schedule_campaign(conn, cid, now + timedelta(days=1), now)),
    (["cancel"], start_campaign),
    (["cancel"], resume_campaign),
]


async def test_illegal_transitions_are_409(pool):
    steps = {"start": start_campaign, "cancel": cancel_campaign}
    for setup, command in ILLEGAL:
        cid = UUID((await create(pool))["id"])
        for step in setup:
            await run(pool, steps[step], cid, NOW)
        with pytest.raises(Problem) as info:
            await run(pool, command, cid, NOW)
        assert info.value.status_code == 409, (setup, command)
        assert "cannot" in info.value.detail


async def test_repeated_commands_are_no_ops(pool):
    await add_contacts(pool, 2)
    cid = UUID((await create(pool))["id"])
    await run(pool, start_campaign, cid, NOW)
    await run(pool, start_campaign, cid, NOW)
    await run(pool, pause_campaign, cid, NOW)
    await run(pool, pause_campaign, cid, NOW)
    assert await outbox_subjects(pool) == [
        "campaign.created",
        "campaign.started",
        "campaign.paused",
    ]


async def test_create_validates_template_and_audience(pool):
    for fields, field in [
        ({"template": "Olá {nome.__class__}"}, "template"),
        ({"template": "Olá {cidade}"}, "template"),
        ({"filter": {"field": "x", "op": "eq", "value": 1}}, "filter.field"),
        ({"filter": None}, "segment_id"),
        ({"segment_id": "predefined:engaged"}, "segment_id"),  # both given
    ]:
        with pytest.raises(Problem) as info:
            await create(pool, **fields)
        assert info.value.status_code == 422
        assert info.value.errors[0]["field"] == field
    with pytest.raises(Problem) as info:
        await create(pool, filter=None, segment_id="00000000-0000-0000-0000-000000000000")
    assert info.value.status_code == 404


async def test_edit_while_draft(pool):
    cid = UUID((await create(pool))["id"])
    edited = await run(
        pool,
        update_campaign,
        cid,
        CampaignFields(segment_id="predefined:engaged", max_per_day=300, template="Oi {nome}"),
        NOW,
    )
    assert edited["segment_id"] == "predefined:engaged" and edited["filter"] is None
    assert edited["max_per_day"] == 300 and edited["template"] == "Oi {nome}"
    assert edited["name"] == "Plantões"
    with pytest.raises(Problem):
        await run(pool, update_campaign, cid, CampaignFields(template="{x}"), NOW)


async def test_concurrent_starts_and_scheduler_enqueue_each_recipient_once(pool):
    await add_contacts(pool, 500, opted_out=20)
    cid = UUID((await create(pool))["id"])
    await run(pool, schedule_campaign, cid, NOW + timedelta(minutes=1), NOW)
    later = NOW + timedelta(minutes=2)
    results = await asyncio.gather(
        run(pool, start_campaign, cid, later),
        run(pool, start_campaign, cid, later),
        start_due_campaigns(pool, later),
        start_due_campaigns(pool, later),
    )
    assert results[0]["audience_size"] == results[1]["audience_size"] == 480
    assert len(results[2]) + len(results[3]) <= 1
    assert (
        await pool.fetchval("SELECT count(*) FROM campaign_recipients WHERE campaign_id = $1", cid)
        == 480
    )
    assert (
        await pool.fetchval(
            "SELECT count(DISTINCT contact_id) FROM campaign_recipients WHERE campaign_id = $1", cid
        )
        == 480
    )
    seqs = await pool.fetchrow(
        "SELECT min(seq), max(seq), count(DISTINCT seq) FROM campaign_recipients"
        " WHERE campaign_id = $1",
        cid,
    )
    assert tuple(seqs) == (1, 480, 480)
    assert (await outbox_subjects(pool)).count("campaign.started") == 1


async def test_a_second_audience_snapshot_fails_instead_of_adding_recipients(pool):
    await add_contacts(pool, 50)
    cid = UUID((await create(pool))["id"])
    await run(pool, start_campaign, cid, NOW)
    audience = parse_filter({"all": []})
    sql, params = audience_sql(SQL.snapshot_audience, audience, NOW, fixed_params=1)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(sql, cid, *params)
    assert await pool.fetchval("SELECT count(*) FROM campaign_recipients") == 50


async def test_start_of_a_campaign_whose_segment_vanished_is_409(pool):
    async with pool.acquire() as conn:
        seg = await create_segment(conn, name="s", description=None, raw_filter=ABC, now=NOW)
    cid = UUID((await create(pool, filter=None, segment_id=seg["id"]))["id"])
    with pytest.raises(Problem) as info:  # cannot delete while a draft targets it
        await run(pool, delete_segment, UUID(seg["id"]))
    assert info.value.status_code == 409
    await pool.execute("DELETE FROM segments")
    with pytest.raises(Problem) as info:
        await run(pool, start_campaign, cid, NOW)
    assert info.value.status_code == 409
    assert (await run(pool, get_campaign, cid))["state"] == "draft"


async def test_preview_renders_for_sample_recipients(pool):
    await add_contacts(pool, 3)
    cid = UUID((await create(pool, template="Olá {primeiro_nome}, {attr.x}fim"))["id"])
    async with pool.acquire() as conn:
        preview = await preview_campaign(conn, cid, NOW, {"primeiro_nome": "Dr(a)."})
    assert len(preview["samples"]) == 3
    assert {s["body"] for s in preview["samples"]} == {"Olá Dra., fim"}
    assert all("*" in s["phone"] for s in preview["samples"])
    assert preview["placeholders"] == ["primeiro_nome", "attr.x"]
