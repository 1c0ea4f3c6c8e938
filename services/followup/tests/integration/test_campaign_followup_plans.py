"""A campaign's own follow-up plan, from campaign.started to the follow-ups the job requests."""

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from followup_harness import T0, Clock, Publish, one_sent, open_campaign_conversation
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext
from test_followup_job import requested_followups

from disparo_followup.rule_sets import parse_rules, save_rule_set
from disparo_shared.db import create_pool
from disparo_shared.events import CampaignStarted, MessageKind
from disparo_shared.followup_plans import FollowupPlan
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually

PLAN = FollowupPlan(
    mode="own",
    delay="6h",
    max_followups=1,
    texts=[["Oi {primeiro_nome}, a vaga do plantão noturno segue aberta!"]],
)


async def started(publish: Publish, client: AsyncTestClient, plan: FollowupPlan) -> UUID:
    campaign_id = uuid4()
    await publish(
        CampaignStarted(campaign_id=campaign_id, audience_size=1, followups=plan, occurred_at=T0)
    )
    return campaign_id


async def plan_known(client: AsyncTestClient, conversation_id: UUID, rule_set: str) -> None:
    async def check() -> bool:
        answer = await client.get(f"/v1/conversations/{conversation_id}")
        return answer.json()["rule_set"] == rule_set

    await eventually(check)


async def test_a_campaign_plan_sets_delay_cap_and_texts_of_its_conversations(
    client: AsyncTestClient,
    publish: Publish,
    clock: Clock,
    js: JetStreamContext,
    kernel_settings: KernelSettings,
) -> None:
    campaign_id = await started(publish, client, PLAN)
    planned = await open_campaign_conversation(client, publish, "+5511933330001", campaign_id)
    await open_campaign_conversation(client, publish, "+5511933330002")  # the default rules
    await plan_known(client, planned, f"campaign:{campaign_id}")

    # 6 hours: the plan's conversation is due, the default one (3 days) is not
    clock.now = T0 + timedelta(hours=6)
    view = (await client.get(f"/v1/conversations/{planned}")).json()
    assert view["due_followup"] == 1
    run = (await client.post("/v1/admin/followups/run")).json()
    assert run["requested"] == 1, run
    assert run["by_rule"][f"campaign:{campaign_id}/primeiro_contato"]["scheduled"] == 1
    assert run["by_rule"]["padrao/primeiro_contato"]["skipped"] == {"waiting_for_delay": 1}

    prefix = kernel_settings.nats.stream_prefix

    async def one_requested() -> list[dict] | None:
        found = [m for m in await requested_followups(js, prefix) if m["kind"] == "followup"]
        return found or None

    [followup] = await eventually(one_requested)
    assert followup["conversation_id"] == str(planned)
    assert followup["body"] == "Oi Ana, a vaga do plantão noturno segue aberta!"
    assert followup["followup_attempt"] == 1
    assert followup["followup_rule"] == f"campaign:{campaign_id}/primeiro_contato"

    # it goes out; the plan's cap is 1, so nothing more for it, ever
    await publish(
        one_sent(
            UUID(followup["message_id"]),
            planned,
            MessageKind.FOLLOWUP,
            clock.now + timedelta(minutes=1),
            campaign_id=campaign_id,
        )
    )

    async def sent_recorded() -> bool:
        # the follow-up's own send, not the campaign message of T0 (already outbound at start)
        state = (await client.get(f"/v1/conversations/{planned}")).json()["state"]
        last_outbound = state["last_outbound_at"]
        return (
            state["followups_in_stage"] == 1
            and last_outbound is not None
            and datetime.fromisoformat(last_outbound) > T0 + timedelta(hours=6)
        )

    await eventually(sent_recorded)
    clock.now = T0 + timedelta(days=10)
    run = (await client.post("/v1/admin/followups/run")).json()
    assert run["by_rule"][f"campaign:{campaign_id}/primeiro_contato"]["skipped"] == {
        "max_reached": 1
    }
    assert run["requested"] == 1  # only the default conversation, after its 3 days
    assert run["by_rule"]["padrao/primeiro_contato"]["scheduled"] == 1


async def test_a_campaign_without_followups_gets_none(
    client: AsyncTestClient, publish: Publish, clock: Clock
) -> None:
    campaign_id = await started(publish, client, FollowupPlan(mode="none"))
    silent = await open_campaign_conversation(client, publish, "+5511933330003", campaign_id)
    await plan_known(client, silent, f"campaign:{campaign_id}")
    clock.now = T0 + timedelta(days=30)
    assert (await client.get(f"/v1/conversations/{silent}")).json()["due_followup"] is None
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 0


async def test_a_campaign_plan_naming_a_rule_set_follows_it_once_saved(
    client: AsyncTestClient, publish: Publish, clock: Clock
) -> None:
    campaign_id = await started(publish, client, FollowupPlan(mode="rule_set", rule_set="noturno"))
    conversation_id = await open_campaign_conversation(
        client, publish, "+5511933330004", campaign_id
    )
    await plan_known(client, conversation_id, "noturno")
    clock.now = T0 + timedelta(days=1)
    # nobody saved "noturno" yet: no follow-up, rather than someone else's texts
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 0
    saved = await client.put(
        "/v1/followup-rules",
        json={
            "name": "noturno",
            "by": "ops",
            "rules": {
                "primeiro_contato": {
                    "delay": "12h",
                    "max_followups": 1,
                    "texts": [["Oi {nome}! O plantão noturno ainda está aberto."]],
                }
            },
        },
    )
    assert saved.status_code == 200, saved.text
    run = (await client.post("/v1/admin/followups/run")).json()
    assert run["requested"] == 1
    assert run["by_rule"]["noturno/primeiro_contato"]["scheduled"] == 1


async def test_a_plan_keeps_the_default_first_contact_template_for_cold_cloud_doctors(
    client: AsyncTestClient,
    publish: Publish,
    clock: Clock,
    js: JetStreamContext,
    kernel_settings: KernelSettings,
) -> None:
    """A plan writes free text, which a Cloud number may not send outside the 24 h window: its
    follow-ups carry the template ops named for padrao's first contact."""
    template = {"name": "plantao_lembrete", "language": "pt_BR", "parameters": [{"field": "name"}]}
    rules = {
        "primeiro_contato": {
            "delay": "3d",
            "max_followups": 1,
            "texts": [["Oi {nome}!"]],
            "template": template,
        }
    }
    # saved as the route does once the dispatcher's registry approved the template (no
    # dispatcher here; tests/e2e/test_e2e_cloud_templates.py saves one through the registry)
    pool = await create_pool(
        DatabaseSettings(url=kernel_settings.database.url, pool_max_size=2), "followup"
    )
    try:
        await save_rule_set(pool, "padrao", parse_rules(rules), "ops", None, T0)
    finally:
        await pool.close()
    campaign_id = await started(publish, client, PLAN)
    planned = await open_campaign_conversation(client, publish, "+5511933330005", campaign_id)
    await plan_known(client, planned, f"campaign:{campaign_id}")
    clock.now = T0 + timedelta(hours=6)
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 1

    async def one_requested() -> list[dict] | None:
        found = [
            m
            for m in await requested_followups(js, kernel_settings.nats.stream_prefix)
            if m["kind"] == "followup"
        ]
        return found or None

    [followup] = await eventually(one_requested)
    assert followup["body"] == "Oi Ana, a vaga do plantão noturno segue aberta!"  # the plan's
    assert followup["template"]["name"] == "plantao_lembrete"
    assert followup["template"]["parameters"][0]["text"] == "Ana Lima"
