"""A campaign with its own follow-up plan, through the real processes and the simulator: the
plan's texts go exactly to the doctors who did not answer, at most its max, and the campaign's
report and CSV say who answered after which message and what stopped the others.

The plan waits 3 seconds (the stack lowers campaign-api's minimum for tests), so the test waits
for the services' own verdicts (a conversation's ``due_followup``), never for a wall-clock speed.
"""

import csv
import io
import uuid

import httpx
import pytest

from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

DOCTORS = (
    5  # 0 answers the campaign; 1 says PARAR; 2 answers follow-up 1; 3 is taken over; 4 silent
)
LONG = 90.0  # generous: the machine is shared and loaded; nothing here measures speed
FIRST = "Oi {nome}! Conseguiu ver os plantões que te mandei?"
SECOND = "{nome}, última chamada: os plantões de sábado fecham amanhã!"


@pytest.fixture(scope="module")
async def followup(stack):
    async with httpx.AsyncClient(
        base_url=stack.ports.url("followup"), headers={"X-API-Key": TEST_API_KEY}
    ) as client:
        yield client


def doctor_phone(i: int, run: str) -> str:
    return f"+55119{int(run[:6], 16) % 10**6:06d}{i:02d}"


async def test_a_campaign_plan_reminds_the_silent_and_the_report_says_after_what_they_answered(
    stack, followup
):
    run = uuid.uuid4().hex
    region = f"plan-{run[:8]}"
    phones = [doctor_phone(i, run) for i in range(DOCTORS)]
    imported = await stack.api.post(
        "/v1/contacts/import",
        content=(
            "phone,name,specialty,region\n"
            + "".join(f"{p},Dra. Médica {i},Pediatria,{region}\n" for i, p in enumerate(phones))
        ).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    created = await stack.api.post(
        "/v1/campaigns",
        json={
            "name": "Plantões com plano",
            "template": "Olá {primeiro_nome}! Temos plantões de {especialidade}. Interesse?",
            "filter": {"field": "region", "op": "eq", "value": region},
            "max_per_day": None,
            "followups": {"delay": "3s", "max": 2, "texts": [FIRST, SECOND]},
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    rule = f"campaign:{campaign_id}/primeiro_contato"
    assert (await stack.api.post(f"/v1/campaigns/{campaign_id}/start")).status_code == 200

    async def sends_to(phone: str) -> list[dict]:
        answer = await stack.simulator.get("/_sim/sends", params={"recipient": phone.lstrip("+")})
        answer.raise_for_status()
        return answer.json()

    async def got(indices, n: int) -> bool:
        return all([len(await sends_to(phones[i])) >= n for i in indices])

    await eventually(lambda: got(range(DOCTORS), 1), timeout=LONG, interval=0.5)

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

    listed = await stack.api.get("/v1/contacts", params={"region": region, "limit": 50})
    contacts = {int(c["name"].rsplit(" ", 1)[1]): c["id"] for c in listed.json()["items"]}

    async def conversation(i: int) -> dict | None:
        page = await followup.get(
            "/v1/conversations", params={"campaign": campaign_id, "contact": contacts[i]}
        )
        items = page.json()["items"]
        if not items or items[0]["last_outbound_at"] is None:
            return None
        return (await followup.get(f"/v1/conversations/{items[0]['conversation_id']}")).json()

    async def all_known() -> bool:
        views = [await conversation(i) for i in range(DOCTORS)]
        return all(v and v["rule_set"] == f"campaign:{campaign_id}" for v in views)

    await eventually(all_known, timeout=LONG, interval=0.5)

    await write(0, "Oi! Tenho interesse sim")
    await write(1, "PARAR")

    async def answers_known() -> bool:
        zero, one = await conversation(0), await conversation(1)
        return bool(zero["last_inbound_at"]) and one["opted_out"]

    await eventually(answers_known, timeout=LONG, interval=0.5)

    async def due(indices, attempt: int) -> bool:
        return all([(await conversation(i))["due_followup"] == attempt for i in indices])

    # the plan's delay passes: its first text goes to the three who did not answer
    await eventually(lambda: due([2, 3, 4], 1), timeout=LONG, interval=0.5)
    first_run = (await followup.post("/v1/admin/followups/run")).json()
    assert first_run["by_rule"][rule]["scheduled"] == 3, first_run
    assert first_run["by_rule"][rule]["skipped"] == {"replied": 1, "opted_out": 1}
    await eventually(lambda: got([2, 3, 4], 2), timeout=LONG, interval=0.5)

    # doctor 2 answers the follow-up; a recruiter takes doctor 3 over
    await write(2, "Desculpa a demora, quais datas?")
    taken = (await conversation(3))["conversation_id"]
    takeover = await followup.post(
        f"/v1/conversations/{taken}/takeover", json={"by": "ana", "reason": "ligar"}
    )
    assert takeover.status_code == 200, takeover.text

    async def second_known() -> bool:
        two = await conversation(2)
        return (
            two["last_inbound_at"] is not None and two["last_inbound_at"] > two["last_outbound_at"]
        )

    await eventually(second_known, timeout=LONG, interval=0.5)

    # only the silent doctor gets the second text; then the plan's max stops everything
    await eventually(lambda: due([4], 2), timeout=LONG, interval=0.5)
    second_run = (await followup.post("/v1/admin/followups/run")).json()
    assert second_run["by_rule"][rule]["scheduled"] == 1, second_run
    await eventually(lambda: got([4], 3), timeout=LONG, interval=0.5)

    async def capped() -> bool:
        answer = (await followup.post("/v1/admin/followups/run")).json()
        assert answer["by_rule"][rule]["scheduled"] == 0, answer
        return answer["by_rule"][rule]["skipped"].get("max_reached") == 1

    await eventually(capped, timeout=LONG, interval=0.5)

    bodies = {i: [s["body"] for s in await sends_to(phones[i])] for i in range(DOCTORS)}
    assert [len(bodies[i]) for i in range(DOCTORS)] == [1, 1, 2, 2, 3]
    for i in (2, 3, 4):
        assert bodies[i][1] == FIRST.replace("{nome}", f"Dra. Médica {i}")
    assert bodies[4][2] == SECOND.replace("{nome}", "Dra. Médica 4")
    assert (await stack.sim_stats())["duplicates"] == 0

    # the report says it the same way the simulator saw it
    expected = {
        "attempts": [
            {
                "attempt": 1,
                "requested": 3,
                "sent": 3,
                "cancelled": 0,
                "failed": 0,
                "answered_after": 1,
            },
            {
                "attempt": 2,
                "requested": 1,
                "sent": 1,
                "cancelled": 0,
                "failed": 0,
                "answered_after": 0,
            },
        ],
        "answered_after": [
            {"attempt": 0, "message": "original", "doctors": 2},
            {"attempt": 1, "message": "followup", "doctors": 1},
        ],
        # doctor 1 wrote PARAR after the campaign's message
        "opted_out_after": [{"attempt": 0, "message": "original", "doctors": 1}],
        "stopped": {
            "replied": 2,
            "opted_out": 1,
            "taken_over": 1,
            "closed": 0,
            "not_stopped": 1,
        },
        "cancelled": {"replied": 0, "opted_out": 0, "taken_over": 0, "closed": 0},
    }

    async def reported() -> dict | None:
        answer = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        if answer.status_code != 200:
            return None
        report = answer.json()
        return report if report["followup"] == expected else None

    try:
        report = await eventually(reported, timeout=LONG, interval=0.5)
    except AssertionError:  # show what the report said instead
        last = (await stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")).json()
        assert last["followup"] == expected
        raise
    assert report["funnel"]["sent"] == sum(len(b) for b in bodies.values())

    exported = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/messages.csv")
    rows = {r["nome"]: r for r in csv.DictReader(io.StringIO(exported.text), delimiter=";")}
    assert {name: (r["respondeu após"], r["follow-ups enviados"]) for name, r in rows.items()} == {
        "Dra. Médica 0": ("mensagem da campanha", "0"),
        "Dra. Médica 1": ("mensagem da campanha", "0"),
        "Dra. Médica 2": ("follow-up 1", "1"),
        "Dra. Médica 3": ("", "1"),
        "Dra. Médica 4": ("", "2"),
    }
