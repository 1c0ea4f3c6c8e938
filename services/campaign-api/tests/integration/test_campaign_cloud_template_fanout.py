"""Fan-out fills a campaign's Cloud API template per doctor, in the same statement as the text.

Each doctor's ``messages.requested`` entry carries the template with the doctor's own values; a
doctor without a mapped field gets the parameter's fallback, or, with none, the message without
the template, counted on the campaign as ``without_template``.
"""

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from disparo_campaign_api.campaigns.fanout import FanoutSettings, fan_out_next_chunk
from disparo_campaign_api.campaigns.handlers import (
    CampaignFields,
    CreateCampaign,
    create_campaign,
    get_campaign,
    preview_campaign,
    start_campaign,
    update_campaign,
)
from disparo_campaign_api.campaigns.templates import DEFAULT_FALLBACKS
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesRequested
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 27, 10, tzinfo=ZoneInfo("America/Sao_Paulo"))
REGION = {"field": "region", "op": "eq", "value": "ABC"}
PLANTAO = {
    "name": "plantao_aviso",
    "language": "pt_BR",
    "parameters": [{"field": "first_name"}, {"field": "specialty"}],
}


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "campaign_api"
    )
    yield pool
    await pool.close()


async def add_doctor(pool, phone: str, name: str | None, specialty: str | None, **attrs) -> None:
    await pool.execute(
        "INSERT INTO contacts (phone, name, specialty, region, attributes)"
        " VALUES ($1, $2, $3, 'ABC', $4::jsonb)",
        phone,
        name,
        specialty,
        attrs,
    )


async def create_and_start(pool, cloud_template: dict) -> UUID:
    data = CreateCampaign(
        name="Plantões",
        template="Oi {primeiro_nome}, plantão de {especialidade}!",
        filter=REGION,
        max_per_day=None,
        cloud_template=cloud_template,
    )
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = UUID((await create_campaign(conn, data, NOW))["id"])
        await start_campaign(conn, campaign_id, NOW)
    return campaign_id


async def fan_out(pool, chunk_size: int = 500) -> dict[str, dict]:
    while await fan_out_next_chunk(pool, NOW, FanoutSettings(chunk_size=chunk_size)) is not None:
        pass
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = 'messages.requested' ORDER BY id"
    )
    # Each payload must be a valid event: what the dispatcher's subscriber parses.
    events = [MessagesRequested.model_validate(r["payload"]) for r in rows]
    return {m.phone: m.model_dump(mode="json") for e in events for m in e.messages}


async def test_each_doctor_gets_the_template_filled_with_their_own_fields(pool):
    await add_doctor(pool, "+5511900000001", "Ana Souza", "Pediatria")
    await add_doctor(pool, "+5511900000002", "Bruno Lima", "Cardiologia")
    campaign_id = await create_and_start(pool, PLANTAO)

    messages = await fan_out(pool)

    assert messages["+5511900000001"]["template"] == {
        "name": "plantao_aviso",
        "language": "pt_BR",
        "parameters": [{"name": None, "text": "Ana"}, {"name": None, "text": "Pediatria"}],
    }
    assert [p["text"] for p in messages["+5511900000002"]["template"]["parameters"]] == [
        "Bruno",
        "Cardiologia",
    ]
    assert messages["+5511900000002"]["body"] == "Oi Bruno, plantão de Cardiologia!"
    async with pool.acquire() as conn:
        assert (await get_campaign(conn, campaign_id))["without_template"] == 0


async def test_a_doctor_missing_a_field_without_fallback_goes_without_template_and_is_counted(
    pool,
):
    await add_doctor(pool, "+5511900000001", "Ana Souza", "Pediatria")
    await add_doctor(pool, "+5511900000002", "Carla Dias", None)  # no specialty
    await add_doctor(pool, "+5511900000003", None, "Ortopedia")  # no name: the default fallback
    campaign_id = await create_and_start(pool, PLANTAO)

    messages = await fan_out(pool)

    assert messages["+5511900000002"]["template"] is None
    assert messages["+5511900000002"]["body"] == "Oi Carla, plantão de !"
    assert [p["text"] for p in messages["+5511900000003"]["template"]["parameters"]] == [
        "Dr(a).",
        "Ortopedia",
    ]
    assert messages["+5511900000001"]["template"] is not None
    async with pool.acquire() as conn:
        campaign = await get_campaign(conn, campaign_id)
    assert campaign["without_template"] == 1
    assert campaign["requested"] == 3


async def test_declared_fallbacks_literals_and_attributes_fill_named_parameters(pool):
    await add_doctor(pool, "+5511900000001", "Ana Souza", None, hospital="Santa Casa")
    await add_doctor(pool, "+5511900000002", "Bruno Lima", "Clínica")  # no hospital
    named = {
        "name": "plantao_nomeado",
        "language": "pt_BR",
        "parameters": [
            {"name": "especialidade", "field": "specialty", "fallback": "clínica geral"},
            {"name": "hospital", "field": "attributes.hospital", "fallback": "nosso hospital"},
            {"name": "valor", "text": "R$ 1.500"},
        ],
    }
    campaign_id = await create_and_start(pool, named)

    messages = await fan_out(pool)

    assert messages["+5511900000001"]["template"]["parameters"] == [
        {"name": "especialidade", "text": "clínica geral"},
        {"name": "hospital", "text": "Santa Casa"},
        {"name": "valor", "text": "R$ 1.500"},
    ]
    assert [p["text"] for p in messages["+5511900000002"]["template"]["parameters"]] == [
        "Clínica",
        "nosso hospital",
        "R$ 1.500",
    ]
    async with pool.acquire() as conn:
        assert (await get_campaign(conn, campaign_id))["without_template"] == 0


async def test_a_campaign_without_cloud_template_requests_text_only(pool):
    await add_doctor(pool, "+5511900000001", "Ana Souza", "Pediatria")
    data = CreateCampaign(name="Só texto", template="Oi {primeiro_nome}", filter=REGION)
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = UUID((await create_campaign(conn, data, NOW))["id"])
        assert (await get_campaign(conn, campaign_id))["cloud_template"] is None
        await start_campaign(conn, campaign_id, NOW)

    messages = await fan_out(pool)

    assert messages["+5511900000001"]["template"] is None
    assert messages["+5511900000001"]["body"] == "Oi Ana"


async def test_editing_a_draft_names_and_drops_its_cloud_template(pool):
    data = CreateCampaign(name="Rascunho", template="Oi {primeiro_nome}", filter=REGION)
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = UUID((await create_campaign(conn, data, NOW))["id"])
        named = await update_campaign(
            conn, campaign_id, CampaignFields(cloud_template=PLANTAO), NOW
        )
        renamed = await update_campaign(conn, campaign_id, CampaignFields(name="Outro"), NOW)
        dropped = await update_campaign(conn, campaign_id, CampaignFields(cloud_template=None), NOW)
    assert named["cloud_template"] == PLANTAO
    assert renamed["cloud_template"] == PLANTAO  # a field not sent keeps its value
    assert dropped["cloud_template"] is None


async def test_the_preview_shows_each_doctors_template_parameters_before_and_after_start(pool):
    await add_doctor(pool, "+5511900000001", "Ana Souza", "Pediatria")
    await add_doctor(pool, "+5511900000002", "Carla Dias", None)
    data = CreateCampaign(
        name="Plantões", template="Oi {primeiro_nome}", filter=REGION, cloud_template=PLANTAO
    )
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = UUID((await create_campaign(conn, data, NOW))["id"])
        before = await preview_campaign(conn, campaign_id, NOW, DEFAULT_FALLBACKS, limit=5)
        await start_campaign(conn, campaign_id, NOW)
        after = await preview_campaign(conn, campaign_id, NOW, DEFAULT_FALLBACKS, limit=5)
    for preview in (before, after):
        by_body = {s["body"]: s["cloud_template_parameters"] for s in preview["samples"]}
        assert by_body == {"Oi Ana": ["Ana", "Pediatria"], "Oi Carla": ["Carla", None]}
