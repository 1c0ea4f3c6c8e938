"""A campaign's own follow-up plan over HTTP: checked at create (a 422 naming the field), shown
as written, editable while a draft, and carried on campaign.started to followup."""

import pytest

from disparo_campaign_api.testing import AUTH, api_client, observe, outbox_is_empty
from disparo_shared.events import subjects
from disparo_shared.followup_plans import FIRST_CONTACT_TEXTS
from disparo_shared.testing.fixtures import eventually

ABC = {"field": "region", "op": "eq", "value": "ABC"}


def campaign(followups) -> dict:
    return {"name": "plantões", "template": "Oi {nome}", "filter": ABC, "followups": followups}


async def test_a_plan_is_shown_as_written_and_travels_on_campaign_started(kernel_settings, db):
    await db.execute(
        "INSERT INTO campaign_api.contacts (phone, region) VALUES ('+5511900000002', 'ABC')"
    )
    plan = {"delay": "36h", "max": 2, "texts": ["Oi {nome}!", ["E aí {primeiro_nome}?", "Oi?"]]}
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, subjects.CAMPAIGN_STARTED) as seen,
    ):
        created = await client.post("/v1/campaigns", headers=AUTH, json=campaign(plan))
        assert created.status_code == 201, created.text
        assert created.json()["followups"] == {
            "delay": "1d12h",
            "max": 2,
            "texts": [["Oi {nome}!"], ["E aí {primeiro_nome}?", "Oi?"]],
        }
        campaign_id = created.json()["id"]
        assert (await client.get(f"/v1/campaigns/{campaign_id}", headers=AUTH)).json()[
            "followups"
        ] == created.json()["followups"]

        # a draft's plan can change; the one at start is the one that travels
        edited = await client.patch(
            f"/v1/campaigns/{campaign_id}", headers=AUTH, json={"followups": {"delay": "2d"}}
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["followups"] == {
            "delay": "2d",
            "max": 2,
            "texts": [list(v) for v in FIRST_CONTACT_TEXTS[:2]],  # the spec's, in Portuguese
        }
        started = await client.post(f"/v1/campaigns/{campaign_id}/start", headers=AUTH)
        assert started.status_code == 200, started.text

        async def carried():
            return len(seen.events) == 1 and await outbox_is_empty(db)

        await eventually(carried)
        assert seen.events[0]["followups"] == {
            "mode": "own",
            "rule_set": None,
            "delay": "2d",
            "max_followups": 2,
            "texts": [list(v) for v in FIRST_CONTACT_TEXTS[:2]],
        }


async def test_none_a_named_rule_set_and_no_plan(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        none = await client.post("/v1/campaigns", headers=AUTH, json=campaign("none"))
        assert none.json()["followups"] == "none"
        named = await client.post(
            "/v1/campaigns", headers=AUTH, json=campaign({"rule_set": "noturno"})
        )
        assert named.json()["followups"] == {"rule_set": "noturno"}
        plain = await client.post(
            "/v1/campaigns", headers=AUTH, json={"name": "x", "template": "Oi", "filter": ABC}
        )
        assert plain.json()["followups"] is None  # the default rules


@pytest.mark.parametrize(
    ("followups", "field", "reason"),
    [
        ({"delay": "10m"}, "followups.delay", "at least 30m"),
        ({"delay": "45d"}, "followups.delay", "at most 30d"),
        ({"delay": "amanhã"}, "followups.delay", "not a duration"),
        ({"delay": 3}, "followups.delay", "a duration"),
        ({"max": 0}, "followups.max", "1 to 5"),
        ({"max": 6}, "followups.max", "1 to 5"),
        ({"max": True}, "followups.max", "1 to 5"),
        ({"max": 2, "texts": ["Oi {nome}"]}, "followups.texts", "each of the 2"),
        ({"max": 1, "texts": ["a", "b"]}, "followups.texts", "2 follow-ups written for max 1"),
        ({"max": 1, "texts": ["Oi {nome"]}, "followups.texts[0][0]", "position 4: a {"),
        ({"max": 1, "texts": ["Oi {especialidade}"]}, "followups.texts[0][0]", "unknown"),
        ({"max": 1, "texts": [[]]}, "followups.texts[0]", "non-empty"),
        ({"max": 2, "texts": ["Oi", ["Olá", "Oi"]]}, "followups.texts[1][1]", "repeats"),
        ({"delay": "2d", "dias": 3}, "followups.dias", "unknown field"),
        ({"rule_set": "Plantão Noturno"}, "followups.rule_set", "a rule set's name"),
        ({"rule_set": "noturno", "max": 1}, "followups.max", "nothing else"),
        ("nenhum", "followups", "none"),
    ],
)
async def test_a_bad_plan_is_a_422_naming_the_field(kernel_settings, db, followups, field, reason):
    async with api_client(kernel_settings) as client:
        bad = await client.post("/v1/campaigns", headers=AUTH, json=campaign(followups))
        assert bad.status_code == 422, bad.text
        [error] = bad.json()["errors"]
        assert error["field"] == field
        assert reason in error["reason"]
    assert await db.fetchval("SELECT count(*) FROM campaign_api.campaigns") == 0
