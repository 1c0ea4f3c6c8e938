"""A rule set's stage names a Cloud API template: every follow-up of that stage carries it,
filled with the doctor's name, so a doctor outside the 24 h window is reached on a Cloud number
(the dispatcher sends the text inside the window and the template outside). Its shape is checked
before the registry is asked; a registry that cannot be asked refuses the save (503)."""

from datetime import timedelta

import asyncpg
from followup_harness import T0, Clock, Publish, open_campaign_conversation, requested_followups
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from disparo_followup.rule_sets import parse_rules, rules_json, save_rule_set
from disparo_shared.db import create_pool
from disparo_shared.events import RequestedMessage
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually

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
    client: AsyncTestClient,
    publish: Publish,
    js: JetStreamContext,
    clock: Clock,
    db: asyncpg.Connection,
    database_url: str,
    kernel_settings: KernelSettings,
) -> None:
    # Saved as the route does after the registry check (the dispatcher's registry is asked in
    # tests/e2e/test_e2e_cloud_templates.py, where a dispatcher runs).
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), "followup")
    try:
        saved = await save_rule_set(pool, "padrao", parse_rules(WITH_TEMPLATE), "ops", None, T0)
    finally:
        await pool.close()
    assert rules_json(saved.rules)["primeiro_contato"]["template"] == REMINDER
    shown = (await client.get("/v1/followup-rules")).json()["rule_sets"][0]
    assert shown["rules"]["primeiro_contato"]["template"] == REMINDER
    await open_campaign_conversation(client, publish, "+5511955570001")  # "Ana Lima"
    clock.now = T0 + timedelta(seconds=2)

    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 1

    # The outbox row leaves as soon as the relay has published it: read the stream, not the row.
    async def outbox_published() -> bool:
        return await db.fetchval("SELECT count(*) FROM followup.outbox") == 0

    await eventually(outbox_published)
    requested = await requested_followups(js, kernel_settings.nats.stream_prefix)
    (followup,) = [RequestedMessage.model_validate(m) for m in requested if m["kind"] == "followup"]
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


async def test_a_stage_template_is_not_saved_unchecked_when_the_registry_cannot_be_asked(
    client: AsyncTestClient,
) -> None:
    # This service has no dispatcher key here: the registry cannot be asked.
    answer = await client.put("/v1/followup-rules", json={"by": "ops", "rules": WITH_TEMPLATE})
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "30"
    assert "rules.primeiro_contato.template cannot be checked now" in answer.json()["detail"]
    [padrao] = (await client.get("/v1/followup-rules")).json()["rule_sets"]
    assert padrao["version"] == 0  # nothing saved
