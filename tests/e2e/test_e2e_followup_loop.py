"""The recruiting loop through the real processes and the simulator: a campaign, replies, an
opt-out by "PARAR", a takeover over HTTP, and the follow-ups that go exactly to the others.

The follow-up delay is two seconds (a rule set saved over HTTP), so the test waits for the
services' own verdicts (a conversation's ``due_followup``, the job's skip reasons), never for
a wall-clock speed.
"""

import uuid

import httpx
import pytest

from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

DELAY = "2s"
DOCTORS = 6  # 0, 1 reply; 2 says PARAR; 3 is taken over; 4, 5 get the follow-ups
LONG = 90.0  # generous: the machine is shared and loaded; nothing here measures speed


@pytest.fixture(scope="module")
async def followup(stack):
    async with httpx.AsyncClient(
        base_url=stack.ports.url("followup"), headers={"X-API-Key": TEST_API_KEY}
    ) as client:
        yield client


def doctor_phone(i: int, run: str) -> str:
    return f"+55119{int(run[:6], 16) % 10**6:06d}{i:02d}"


async def test_followups_go_exactly_to_the_silent_doctors_once_per_attempt(stack, followup):
    run = uuid.uuid4().hex
    region = f"loop-{run[:8]}"
    phones = [doctor_phone(i, run) for i in range(DOCTORS)]

    # ops make the first-contact rule quick, keeping the spec's texts
    [padrao] = (await followup.get("/v1/followup-rules")).json()["rule_sets"]
    rules = padrao["rules"]
    rules["primeiro_contato"]["delay"] = DELAY
    saved = await followup.put(
        "/v1/followup-rules",
        json={"by": "ops", "expected_version": padrao["version"], "rules": rules},
    )
    assert saved.status_code == 200, saved.text

    # import the doctors, start a campaign to them
    csv = "phone,name,specialty,region\n" + "".join(
        f"{p},Dra. Médica {i},Anestesiologia,{region}\n" for i, p in enumerate(phones)
    )
    imported = await stack.api.post(
        "/v1/contacts/import", content=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    created = await stack.api.post(
        "/v1/campaigns",
        json={
            "name": "Plantões do loop",
            "template": "Olá {primeiro_nome}! Temos plantões de {especialidade}. Interesse?",
            "filter": {"field": "region", "op": "eq", "value": region},
            "max_per_day": None,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert (await stack.api.post(f"/v1/campaigns/{campaign_id}/start")).status_code in (200, 202)

    async def sends_to(phone: str) -> list[dict]:
        answer = await stack.simulator.get("/_sim/sends", params={"recipient": phone.lstrip("+")})
        answer.raise_for_status()
        found = answer.json()
        if not found:
            answer = await stack.simulator.get("/_sim/sends", params={"recipient": phone})
            found = answer.json()
        return found

    async def everyone_got(n: int) -> bool:
        return all([len(await sends_to(p)) >= n for p in phones])

    await eventually(lambda: everyone_got(1), timeout=LONG, interval=0.5)

    async def everyone_got_followups(indices: list[int], n: int) -> bool:
        return all([len(await sends_to(phones[i])) >= n for i in indices])

    async def conversations() -> list[dict]:
        page = await followup.get(
            "/v1/conversations", params={"campaign": campaign_id, "limit": 50}
        )
        page.raise_for_status()
        return page.json()["items"]

    async def all_known() -> list[dict] | None:
        items = await conversations()
        known = [c for c in items if c["last_outbound_at"] is not None]
        return items if len(known) == DOCTORS else None

    by_phone_order = await eventually(all_known, timeout=LONG, interval=0.5)
    assert len(by_phone_order) == DOCTORS

    # two doctors reply, one says PARAR (through the simulator, as WhatsApp would)
    async def write(i: int, text: str) -> None:
        [first] = (await sends_to(phones[i]))[:1]
        answer = await stack.simulator.post(
            "/_sim/inbound",
            json={
                "dialect": first["dialect"],
                "sender": first["sender"],
                "from": phones[i].lstrip("+"),
                "text": text,
            },
        )
        assert answer.status_code == 200, answer.text

    await write(0, "Oi! Tenho interesse sim")
    await write(1, "Qual o valor do plantão?")
    await write(2, "PARAR")

    # each doctor's conversation, found by the contact id campaign-api gave them
    listed = await stack.api.get("/v1/contacts", params={"region": region, "limit": 50})
    listed.raise_for_status()
    contacts = {int(c["name"].rsplit(" ", 1)[1]): c["id"] for c in listed.json()["items"]}
    assert sorted(contacts) == list(range(DOCTORS))

    async def conversation_of(i: int) -> dict:
        page = await followup.get(
            "/v1/conversations", params={"campaign": campaign_id, "contact": contacts[i]}
        )
        [item] = page.json()["items"]
        return item

    taken = (await conversation_of(3))["conversation_id"]
    takeover = await followup.post(
        f"/v1/conversations/{taken}/takeover", json={"by": "ana", "reason": "pediu para ligar"}
    )
    assert takeover.status_code == 200, takeover.text

    async def replies_and_opt_out_known() -> bool:
        states = [await conversation_of(i) for i in range(3)]
        return all(s["last_inbound_at"] for s in states) and states[2]["opted_out"]

    await eventually(replies_and_opt_out_known, timeout=LONG, interval=0.5)

    silent = [(await conversation_of(i))["conversation_id"] for i in (4, 5)]

    async def due(attempt: int) -> bool:
        views = [(await followup.get(f"/v1/conversations/{c}")).json() for c in silent]
        return all(v["due_followup"] == attempt for v in views)

    # the delay passes: exactly the two silent doctors are due their first follow-up
    await eventually(lambda: due(1), timeout=LONG, interval=0.5)
    first_run = (await followup.post("/v1/admin/followups/run")).json()
    assert first_run["requested"] == 2, first_run
    # skipped, and why: an opt-out counts before the reply that carried it
    assert first_run["by_rule"]["padrao/primeiro_contato"]["skipped"] == {
        "replied": 2,
        "opted_out": 1,
        "taken_over": 1,
    }
    again = (await followup.post("/v1/admin/followups/run")).json()
    assert again["requested"] == 0, again

    await eventually(lambda: everyone_got_followups([4, 5], 2), timeout=LONG, interval=0.5)

    # after the delay, the second follow-up, in other words than the first
    await eventually(lambda: due(2), timeout=LONG, interval=0.5)
    second_run = (await followup.post("/v1/admin/followups/run")).json()
    assert second_run["requested"] == 2, second_run
    await eventually(lambda: everyone_got_followups([4, 5], 3), timeout=LONG, interval=0.5)

    # then nothing: both reached the rule's max
    async def capped() -> bool:
        answer = (await followup.post("/v1/admin/followups/run")).json()
        assert answer["requested"] == 0, answer
        skipped = answer["by_rule"]["padrao/primeiro_contato"]["skipped"]
        return skipped.get("max_reached") == 2

    await eventually(capped, timeout=LONG, interval=0.5)

    # the simulator's record: one campaign message each, two follow-ups to each silent doctor
    for i in range(DOCTORS):
        bodies = [s["body"] for s in await sends_to(phones[i])]
        expected = 3 if i in (4, 5) else 1
        assert len(bodies) == expected, (i, bodies)
        if i in (4, 5):
            assert bodies[1] != bodies[2]  # a second reminder never repeats the first
            assert "Dra. Médica" in bodies[1]
    assert (await stack.sim_stats())["duplicates"] == 0

    # the loop report matches what the simulator received
    async def reported() -> dict | None:
        report = (
            await followup.get("/v1/reports/followups", params={"campaign": campaign_id})
        ).json()
        return report if report["followups_sent"] == 4 else None

    report = await eventually(reported, timeout=LONG, interval=0.5)
    assert report["conversations"] == DOCTORS
    assert report["replied"] == 3
    assert report["replied_after_followups"] == {"0": 3}
    assert report["followups_requested"] == 4
    assert report["opted_out"] == 1
    assert report["taken_over"] == 1
    # reporting counts the same sends for the campaign (follow-ups carry the campaign's id)
    total_sent = sum([len(await sends_to(p)) for p in phones])

    async def reporting_caught_up() -> bool:
        answer = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        return answer.status_code == 200 and answer.json()["funnel"]["sent"] == total_sent

    await eventually(reporting_caught_up, timeout=LONG, interval=0.5)
    assert total_sent == DOCTORS + 4
    assert [(r["rule"], r["attempt"], r["sent"]) for r in report["by_rule"]] == [
        ("padrao/primeiro_contato", 1, 2),
        ("padrao/primeiro_contato", 2, 2),
    ]
