"""A provider opt-out stops a campaign's follow-ups, through the processes and the simulator: a
doctor who stops marketing messages on WhatsApp (Cloud 131050, the simulator's
``opted_out_numbers``) after the campaign reached them gets no further follow-up, while a silent
colleague gets the whole plan; campaign-api's consent history and the report say why.

The campaign's plan names a rule set whose first-contact rule waits 2 seconds and has a Cloud
template for cold doctors, so the test waits for the services' verdicts, never for a speed.
"""

import httpx
import pytest
from test_e2e_cloud_templates import (  # noqa: F401 (the module's stack fixture)
    a_phone,
    cloud_stack,
    create_doctor,
    plantao_campaign,
    received,
    sync_registry,
)

from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

LONG = 90.0  # generous: the machine is shared and loaded; nothing here measures speed
RULES = {
    "primeiro_contato": {
        "delay": "2s",
        "max_followups": 2,
        "texts": [["Oi {primeiro_nome}, viu o plantão?"], ["{primeiro_nome}, última chamada!"]],
        "template": {
            "name": "plantao_aviso",
            "language": "pt_BR",
            "parameters": [{"field": "first_name"}, {"text": "pediatria"}],
        },
    }
}


async def test_a_provider_opt_out_stops_the_followups_of_that_doctor_only(
    cloud_stack,  # noqa: F811 (the fixture imported above)
):
    stack = cloud_stack
    await sync_registry(stack)
    region = f"O{a_phone()[-8:]}"
    leaving, silent = a_phone(), a_phone()
    await create_doctor(stack, leaving, "Lia Prado", "Pediatria", region)
    await create_doctor(stack, silent, "Rui Dias", "Pediatria", region)
    async with httpx.AsyncClient(
        base_url=stack.ports.url("followup"), headers={"X-API-Key": TEST_API_KEY}
    ) as followup:
        saved = await followup.put(
            "/v1/followup-rules", json={"name": "optout-e2e", "by": "ops", "rules": RULES}
        )
        assert saved.status_code == 200, saved.text
        campaign = {**plantao_campaign(region), "followups": {"rule_set": "optout-e2e"}}
        created = await stack.api.post("/v1/campaigns", json=campaign)
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        assert (await stack.api.post(f"/v1/campaigns/{campaign_id}/start")).status_code == 200

        async def both_reached() -> bool:
            return all([len(await received(stack, p)) == 1 for p in (leaving, silent)])

        await eventually(both_reached, timeout=LONG, interval=0.5)

        # the doctor stops marketing messages on WhatsApp: the provider now refuses them (131050)
        refused = await stack.simulator.put(
            "/_sim/faults", json={"opted_out_numbers": [leaving.lstrip("+")]}
        )
        assert refused.status_code == 200, refused.text

        async def run_until(phone: str, sends: int) -> bool:
            # followup learns each send a moment after it: run the (idempotent) job until then
            answer = await followup.post("/v1/admin/followups/run")
            assert answer.status_code == 200, answer.text
            return len(await received(stack, phone)) >= sends

        await eventually(lambda: run_until(silent, 2), timeout=LONG, interval=1.0)

        # the refusal reaches campaign-api's consent history and followup's view of the doctor
        listed = await stack.api.get("/v1/contacts", params={"region": region, "limit": 10})
        ids = {c["name"]: c["id"] for c in listed.json()["items"]}

        async def provider_opt_out_recorded() -> list[dict] | None:
            history = await stack.api.get(f"/v1/contacts/{ids['Lia Prado']}/consent")
            entries = history.json() if history.status_code == 200 else []
            return [e for e in entries if e.get("source") == "provider"] or None

        await eventually(provider_opt_out_recorded, timeout=LONG, interval=0.5)

        async def followup_knows() -> bool:
            page = await followup.get(
                "/v1/conversations", params={"campaign": campaign_id, "contact": ids["Lia Prado"]}
            )
            return page.json()["items"][0]["opted_out"]

        await eventually(followup_knows, timeout=LONG, interval=0.5)

        # the silent doctor gets the plan's second follow-up; the one who left gets nothing more
        await eventually(lambda: run_until(silent, 3), timeout=LONG, interval=1.0)

        async def plan_done() -> bool:
            # The simulator has the last follow-up a moment before followup learns it was sent;
            # until then the job skips the silent doctor as waiting for that send, never more.
            last = (await followup.post("/v1/admin/followups/run")).json()
            skipped = last["by_rule"]["optout-e2e/primeiro_contato"]["skipped"]
            assert skipped in (
                {"opted_out": 1, "previous_not_sent_yet": 1},
                {"opted_out": 1, "max_reached": 1},
            ), last
            return skipped.get("max_reached") == 1

        await eventually(plan_done, timeout=LONG, interval=0.5)
    assert len(await received(stack, leaving)) == 1  # the refused follow-up never arrived

    async def reported() -> dict | None:
        answer = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        if answer.status_code != 200:
            return None
        breakdown = answer.json()["followup"]
        done = breakdown["stopped"]["opted_out"] == 1 and len(breakdown["attempts"]) == 2
        return breakdown if done else None

    breakdown = await eventually(reported, timeout=LONG, interval=0.5)
    assert breakdown["stopped"] == {
        "replied": 0,
        "opted_out": 1,
        "taken_over": 0,
        "closed": 0,
        "not_stopped": 1,
    }
    first, second = breakdown["attempts"]
    assert (first["requested"], first["sent"], first["failed"]) == (2, 1, 1)
    assert (second["requested"], second["sent"]) == (1, 1)
