"""A rule set's stage names a Cloud API template: every follow-up of that stage carries it,
filled with the doctor's name, so a doctor outside the 24 h window is reached on a Cloud number
(the dispatcher sends the text inside the window and the template outside)."""

from datetime import timedelta

import asyncpg
from followup_harness import T0, Clock, Publish, open_campaign_conversation
from litestar.testing import AsyncTestClient

from disparo_shared.events import MessagesRequested

REMINDER = {
    "name": "plantao_lembrete",
    "language": "pt_BR",
    "parameters": [{"field": "first_name"}, {"text": "ABC"}],
}
WITH_TEMPLATE = {
    "primeiro_contato": {
        "delay": "PT2S",
        "max_followups": 1,
        "texts": [["Oi {primeiro_nome}, viu a vaga?"]],
        "template": REMINDER,
    }
}


async def test_followups_of_a_stage_with_a_template_carry_it_filled_for_each_doctor(
    client: AsyncTestClient, publish: Publish, clock: Clock, db: asyncpg.Connection
) -> None:
    saved = await client.put("/v1/followup-rules", json={"by": "ops", "rules": WITH_TEMPLATE})
    assert saved.status_code == 200, saved.text
    assert saved.json()["rules"]["primeiro_contato"]["template"] == REMINDER
    await open_campaign_conversation(client, publish, "+5511955570001")  # "Ana Lima"
    clock.now = T0 + timedelta(seconds=2)

    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 1

    rows = await db.fetch(
        "SELECT payload FROM followup.outbox WHERE subject = 'messages.requested'"
    )
    (followup,) = [
        m for r in rows for m in MessagesRequested.model_validate_json(r["payload"]).messages
    ]
    assert followup.body == "Oi Ana, viu a vaga?"
    assert followup.template is not None
    assert followup.template.model_dump() == {
        "name": "plantao_lembrete",
        "language": "pt_BR",
        "parameters": [{"name": None, "text": "Ana"}, {"name": None, "text": "ABC"}],
    }


async def test_a_stage_template_a_followup_cannot_fill_is_refused_naming_the_field(
    client: AsyncTestClient,
) -> None:
    cases = [
        ({**REMINDER, "parameters": [{"field": "specialty"}]}, ".parameters[0].field"),
        ({**REMINDER, "parameters": [{"text": "a\nb"}]}, ".parameters[0].text"),
        ({**REMINDER, "language": "português"}, ".language"),
        (
            {**REMINDER, "parameters": [{"name": "nome", "field": "name"}, {"text": "x"}]},
            ".parameters",
        ),
    ]
    for template, field in cases:
        rules = {"primeiro_contato": {**WITH_TEMPLATE["primeiro_contato"], "template": template}}
        answer = await client.put("/v1/followup-rules", json={"by": "ops", "rules": rules})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == f"rules.primeiro_contato.template{field}"
