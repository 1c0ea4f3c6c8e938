"""The Cloud API's real dialect: templates per account, the 24 h window, template refusals."""

import json

import pytest
from litestar.testing import AsyncTestClient
from sim_helpers import CLOUD_AUTH, CLOUD_URL, cloud_message

from disparo_simulator import SimulatorSettings, create_app
from disparo_simulator.outcomes import Dialect

DOCTOR = "5511987654321"
NUMBER = "1234567890"  # the phone number id in CLOUD_URL


class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def template_send(name="plantao_aviso", language="pt_BR", parameters=None, to=DOCTOR) -> dict:
    body_parameters = [
        {"type": "text", "text": p} if isinstance(p, str) else p for p in parameters or []
    ]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [{"type": "body", "parameters": body_parameters}],
        },
    }


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
async def sim(clock, wall):
    settings = SimulatorSettings(
        cloud_require_window=True, pair_spacing_seconds=0, reply_probability=0.0
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock, wall_clock=wall)) as client:
        await client.post(
            "/_sim/templates",
            json={"name": "plantao_aviso", "body": "Olá, {{1}}! Plantão de {{2}} amanhã."},
        )
        yield client


async def test_free_text_to_a_doctor_who_never_wrote_is_131047_as_meta_answers(sim):
    response = await sim.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 131047
    assert error["message"] == "(#131047) Re-engagement message"
    assert error["type"] == "OAuthException"
    assert error["error_data"] == {
        "messaging_product": "whatsapp",
        "details": "Message failed to send because more than 24 hours have passed since the "
        "customer last replied to this number.",
    }
    assert error["fbtrace_id"]
    assert (await sim.get("/_sim/sends")).json() == []


async def test_a_doctors_message_opens_24_hours_of_free_text_for_that_number_only(sim, wall):
    # The path of every simulated doctor's message: /_sim/inbound and the generated replies.
    sim.app.state.provider.lifecycle.inbound_event(
        Dialect.CLOUD, NUMBER, DOCTOR, "Tenho interesse!"
    )

    inside = await sim.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
    other_number = await sim.post("/v21.0/999/messages", json=cloud_message(), headers=CLOUD_AUTH)
    wall.now += 24 * 3600 - 1
    last_second = await sim.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
    wall.now += 1
    closed = await sim.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert inside.status_code == 200
    assert other_number.json()["error"]["code"] == 131047
    assert last_second.status_code == 200
    assert closed.json()["error"]["code"] == 131047


async def test_template_outside_the_window_is_rendered_into_what_the_doctor_receives(sim):
    response = await sim.post(
        CLOUD_URL,
        json=template_send(parameters=["Dra. Ana", "cardiologia"]),
        headers=CLOUD_AUTH,
    )
    (send,) = (await sim.get("/_sim/sends")).json()

    assert response.status_code == 200
    assert send["body"] == "Olá, Dra. Ana! Plantão de cardiologia amanhã."
    assert send["template"] == "plantao_aviso/pt_BR"


async def test_named_parameters_fill_by_name(sim):
    await sim.post(
        "/_sim/templates",
        json={"name": "boas_vindas", "body": "Oi {{nome}}, tudo bem? ({{especialidade}})"},
    )
    parameters = [
        {"type": "text", "parameter_name": "especialidade", "text": "pediatria"},
        {"type": "text", "parameter_name": "nome", "text": "Rafael"},
    ]

    response = await sim.post(
        CLOUD_URL, json=template_send("boas_vindas", parameters=parameters), headers=CLOUD_AUTH
    )

    assert response.status_code == 200
    assert (await sim.get("/_sim/sends")).json()[0]["body"] == "Oi Rafael, tudo bem? (pediatria)"


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (template_send(parameters=["Ana"]), 132000),
        (template_send(parameters=["Ana", "x", "y"]), 132000),
        (template_send(language="en_US", parameters=["Ana", "x"]), 132001),
        (template_send(name="nao_existe", parameters=["Ana", "x"]), 132001),
        (template_send(parameters=["Ana", "x" * 1100]), 132005),
        (template_send(parameters=["Ana", "linha\nnova"]), 132012),
        (template_send(parameters=["Ana", ""]), 132012),
        (
            template_send(parameters=["Ana", {"type": "text", "parameter_name": "x", "text": "y"}]),
            132012,
        ),
    ],
)
async def test_template_sends_are_checked_as_meta_checks_them(sim, send, code):
    response = await sim.post(CLOUD_URL, json=send, headers=CLOUD_AUTH)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(f"(#{code}) ")
    assert (await sim.get("/_sim/sends")).json() == []
    stats = (await sim.get("/_sim/stats")).json()
    assert sum(stats["template_errors"].values()) == 1


@pytest.mark.parametrize(
    ("status", "code"), [("PAUSED", 132015), ("DISABLED", 132016), ("PENDING", 132001)]
)
async def test_a_template_not_approved_is_refused_with_its_code(sim, status, code):
    changed = await sim.post(
        "/_sim/templates/status", json={"name": "plantao_aviso", "status": status}
    )

    response = await sim.post(
        CLOUD_URL, json=template_send(parameters=["Ana", "x"]), headers=CLOUD_AUTH
    )

    assert changed.json()["template"]["status"] == status
    assert changed.json()["posted"] is False  # no Cloud webhook URL configured
    assert response.json()["error"]["code"] == code


async def test_marketing_limited_doctor_gets_131049_on_a_template(clock, wall):
    settings = SimulatorSettings(marketing_limited_numbers=[DOCTOR])
    async with AsyncTestClient(app=create_app(settings, clock=clock, wall_clock=wall)) as sim:
        await sim.post("/_sim/templates", json={"name": "oi", "body": "Oi!"})
        response = await sim.post(CLOUD_URL, json=template_send("oi"), headers=CLOUD_AUTH)

    assert response.json()["error"]["code"] == 131049


async def test_templates_are_listed_per_account_in_meta_shape_with_cursor_paging(sim):
    for n in range(3):
        await sim.post("/_sim/templates", json={"name": f"extra_{n}", "body": "Oi {{1}}"})
    await sim.post("/_sim/templates", json={"waba_id": "222", "name": "outra_conta", "body": "Oi"})

    first = (
        await sim.get("/v21.0/100000000000001/message_templates?limit=3", headers=CLOUD_AUTH)
    ).json()
    after = first["paging"]["cursors"]["after"]
    second = (
        await sim.get(
            f"/v21.0/100000000000001/message_templates?limit=3&after={after}", headers=CLOUD_AUTH
        )
    ).json()
    unauthorized = await sim.get("/v21.0/100000000000001/message_templates")

    assert [t["name"] for t in first["data"]] == ["plantao_aviso", "extra_0", "extra_1"]
    assert first["paging"]["next"].endswith(f"limit=3&after={after}")
    assert [t["name"] for t in second["data"]] == ["extra_2"]
    assert "next" not in second["paging"]
    aviso = first["data"][0]
    assert aviso["status"] == "APPROVED" and aviso["category"] == "MARKETING"
    assert aviso["language"] == "pt_BR" and aviso["parameter_format"] == "POSITIONAL"
    assert aviso["components"][0]["type"] == "BODY"
    assert aviso["components"][0]["text"] == "Olá, {{1}}! Plantão de {{2}} amanhã."
    assert aviso["id"].isdigit()
    assert unauthorized.status_code == 401


async def test_status_change_and_account_webhooks_are_posted_signed_in_meta_envelope(
    webhook_receiver,
):
    settings = SimulatorSettings(cloud_webhook_url=webhook_receiver.url)
    async with AsyncTestClient(app=create_app(settings)) as sim:
        await sim.post("/_sim/templates", json={"name": "oi", "body": "Oi!"})
        paused = await sim.post(
            "/_sim/templates/status",
            json={"name": "oi", "status": "PAUSED", "reason": "LOW_QUALITY"},
        )
        quality = await sim.post(
            "/_sim/account-webhook",
            json={
                "field": "phone_number_quality_update",
                "value": {
                    "display_phone_number": "5511955550001",
                    "event": "FLAGGED",
                    "current_limit": "TIER_250",
                    "max_daily_conversations_per_business": "TIER_250",
                },
            },
        )
        refused = await sim.post("/_sim/account-webhook", json={"field": "messages", "value": {}})
        template_hook, quality_hook = await webhook_receiver.wait_for(2)

    assert paused.json()["posted"] is True and quality.json()["posted"] is True
    assert refused.status_code == 400
    body = json.loads(template_hook.body)
    assert template_hook.headers["x-hub-signature-256"].startswith("sha256=")
    assert body["object"] == "whatsapp_business_account"
    (change,) = body["entry"][0]["changes"]
    assert change["field"] == "message_template_status_update"
    assert change["value"]["event"] == "PAUSED"
    assert change["value"]["message_template_name"] == "oi"
    assert change["value"]["message_template_language"] == "pt_BR"
    assert change["value"]["reason"] == "LOW_QUALITY"
    assert isinstance(change["value"]["message_template_id"], int)
    (quality_change,) = json.loads(quality_hook.body)["entry"][0]["changes"]
    assert quality_change["field"] == "phone_number_quality_update"
    assert quality_change["value"]["event"] == "FLAGGED"
