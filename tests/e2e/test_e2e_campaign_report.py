"""A campaign through the real processes: its report and CSV match what the simulator received,
row by row — who was sent what, and who answered."""

import csv
import io
import uuid

import pytest

from disparo_shared.testing.fixtures import eventually

pytestmark = pytest.mark.e2e

DOCTORS = 6
ANSWERING = 2


async def test_campaign_report_and_csv_match_the_simulator_row_by_row(stack) -> None:
    region = f"R{uuid.uuid4().hex[:8]}"  # this test's doctors only
    doctors = {}
    for i in range(DOCTORS):
        phone = f"+551197{uuid.uuid4().int % 10**7:07d}"
        answer = await stack.api.post(
            "/v1/contacts",
            json={
                "phone": phone,
                "name": f"Dra. Teste {i}",
                "specialty": "Pediatria",
                "region": region,
            },
        )
        assert answer.status_code in (200, 201), answer.text
        doctors[phone] = f"Dra. Teste {i}"
    created = await stack.api.post(
        "/v1/campaigns",
        json={
            "name": "Relatório e2e",
            "template": "Olá {primeiro_nome}, temos plantões de {especialidade}.",
            "filter": {"field": "region", "op": "eq", "value": region},
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert (await stack.api.post(f"/v1/campaigns/{campaign_id}/start")).status_code in (200, 202)

    async def every_doctor_sent() -> list[dict] | None:
        sends = [
            s
            for phone in doctors
            for s in (
                await stack.simulator.get("/_sim/sends", params={"recipient": phone.lstrip("+")})
            ).json()
        ]
        return sends if len(sends) >= DOCTORS else None

    sends = await eventually(every_doctor_sent, timeout=60)
    by_message = {s["message_id"]: s for s in sends}
    assert len(by_message) == DOCTORS  # one send per doctor, no duplicate
    answering = sorted(by_message.values(), key=lambda s: s["message_id"])[:ANSWERING]

    async def reported_delivered() -> bool:
        # doctors answer what reached them: wait until reporting knows every send delivered
        answer = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        funnel = answer.json()["funnel"] if answer.status_code == 200 else {}
        return funnel.get("sent") == DOCTORS and funnel.get("delivered") == DOCTORS

    await eventually(reported_delivered, timeout=60)
    for send in answering:
        posted = await stack.simulator.post(
            "/_sim/inbound",
            json={
                "from": send["recipient"],
                "sender": send["sender"],
                "dialect": send["dialect"],
                "text": "Sim, tenho interesse",
            },
        )
        assert posted.status_code == 200, posted.text

    last_seen: list[dict] = []

    async def report_caught_up() -> dict | None:
        answer = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        if answer.status_code != 200:
            return None
        body = answer.json()
        last_seen[:] = [body["funnel"]]
        done = body["funnel"]["sent"] == DOCTORS and body["funnel"]["replied"] == ANSWERING
        return body if done else None

    try:
        report = await eventually(report_caught_up, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"report never caught up; last funnel: {last_seen}") from exc
    assert report["funnel"]["targeted"] == DOCTORS
    assert report["funnel"]["dead"] == 0
    assert sum(point["sent"] for point in report["hourly"]) == DOCTORS
    assert sum(point["replied"] for point in report["daily"]) == ANSWERING
    assert {r["name"] for r in report["top_responders"]} == {
        doctors["+" + s["recipient"].lstrip("+")] for s in answering
    }

    answer = await stack.reporting.get(f"/v1/campaigns/{campaign_id}/messages.csv")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text), delimiter=";"))
    assert len(rows) == DOCTORS
    answered_ids = {s["message_id"] for s in answering}
    for row in rows:
        send = by_message[row["id da mensagem"]]  # every row is a message the simulator got
        phone = "+" + send["recipient"].lstrip("+")
        assert row["telefone"] == phone  # the stack's test key holds every scope, phones too
        assert row["nome"] == doctors[phone]
        assert row["especialidade"] == "Pediatria" and row["região"] == region
        assert row["status de envio"] in {
            "Enviada (aguardando confirmação do WhatsApp)",
            "Entregue",
            "Lida",
        }
        replied = row["id da mensagem"] in answered_ids
        assert row["respondeu"] == ("Sim" if replied else "Não")
        assert bool(row["primeira resposta em"]) == replied
        assert row["respondeu após"] == ("mensagem da campanha" if replied else "")
