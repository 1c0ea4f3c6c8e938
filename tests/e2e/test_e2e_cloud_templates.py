"""The official Cloud API end to end, the services as processes over one Cloud number:

- cold doctors get the approved template with their parameters (the simulator's received
  bodies are the filled template);
- a doctor who wrote in the last 24 h gets the free text instead;
- a campaign with no template holds its cold recipients as ``needs_template``, visible in the
  campaign report, none dead; a doctor who then writes gets the text.

The first tests request template sends on the bus (``messages.requested`` carrying a
template). Then a campaign names the template through campaign-api (``cloud_template``): it is
checked against the dispatcher's registry at creation (422 naming the field; 503 while the
dispatcher is down), and fan-out fills each doctor's parameters from their contact fields — cold
doctors are reached with the template, a doctor who wrote gets the text, and a doctor missing a
mapped field is held as ``needs_template`` and counted on the campaign as ``without_template``.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import nats
import pytest

from conftest import DISPATCHER_ENV, Stack, _delete_streams, _print_output
from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.processes import ManagedProcess, StackPorts, stack_processes, stop_all
from disparo_shared.events import (
    MessagesRequested,
    MessageTemplate,
    RequestedMessage,
    TemplateParameter,
)
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

NUMBER = "100000000000001"  # sim-cloud-1's phone number id


@pytest.fixture(scope="module")
async def cloud_stack(test_servers, e2e_database_url) -> AsyncIterator[Stack]:
    prefix = f"e2e{uuid.uuid4().hex[:10]}."
    ports = StackPorts(*(free_port() for _ in range(5)))
    specs = stack_processes(
        ports,
        e2e_database_url,
        test_servers.nats_url,
        evolution_numbers=0,
        cloud_numbers=1,
        common_env={
            "DISPARO_NATS_STREAM_PREFIX": prefix,
            "DISPARO_API_KEYS": json.dumps([TEST_API_KEY]),
            "DISPARO_DB_POOL_MAX_SIZE": "5",
            **ALWAYS_OPEN_WINDOW,
        },
        extra_env={"dispatcher": DISPATCHER_ENV, "simulator": {"SIM_READ_PROBABILITY": "0"}},
    )
    lines: dict[str, list[str]] = defaultdict(list)
    processes = [
        ManagedProcess(spec, lambda name, line: lines[name].append(line)) for spec in specs
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
        running = Stack(ports, processes, e2e_database_url, test_servers.nats_url, prefix)
        yield running
        await running.close()
    finally:
        stop_all(processes, grace_seconds=10)
        _print_output(processes, lines)
        await _delete_streams(test_servers.nats_url, prefix)


def a_phone() -> str:
    return f"+551196{uuid.uuid4().int % 10**7:07d}"


async def request(stack: Stack, *messages: RequestedMessage) -> None:
    nc = await nats.connect(stack.nats_url)
    try:
        event = MessagesRequested(messages=list(messages))
        await nc.jetstream().publish(
            qualified(stack.stream_prefix, event.publish_subject),
            json.dumps(event.model_dump(mode="json")).encode(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )
    finally:
        await nc.close()


async def received(stack: Stack, phone: str) -> list[dict]:
    answer = await stack.simulator.get("/_sim/sends", params={"recipient": phone.lstrip("+")})
    return answer.json()


async def doctor_writes(stack: Stack, phone: str, text: str = "Oi, tenho interesse") -> None:
    answer = await stack.simulator.post(
        "/_sim/inbound",
        json={"dialect": "cloud", "sender": NUMBER, "from": phone.lstrip("+"), "text": text},
    )
    assert answer.status_code == 200, answer.text


async def test_cold_doctors_get_the_template_and_a_doctor_who_wrote_gets_the_text(cloud_stack):
    cold = {a_phone(): name for name in ("Dra. Ana", "Dr. Bruno", "Dra. Carla")}
    warm = a_phone()
    await doctor_writes(cloud_stack, warm)

    def campaign_message(phone: str, name: str) -> RequestedMessage:
        message_id = uuid.uuid4()
        return RequestedMessage(
            message_id=message_id,
            idempotency_key=f"e2e-cloud:{message_id}",
            phone=phone,
            kind="campaign",
            body=f"Oi {name}! Surgiu um plantão de pediatria, quer saber mais?",
            template=MessageTemplate(
                name="plantao_aviso",
                language="pt_BR",
                parameters=[TemplateParameter(text=name), TemplateParameter(text="pediatria")],
            ),
        )

    await request(
        cloud_stack,
        *(campaign_message(p, n) for p, n in cold.items()),
        campaign_message(warm, "Dr. Diego"),
    )

    async def all_received():
        sends = {p: await received(cloud_stack, p) for p in [*cold, warm]}
        return sends if all(sends.values()) else None

    sends = await eventually(all_received, timeout=60)
    for phone, name in cold.items():
        (send,) = sends[phone]
        assert send["template"] == "plantao_aviso/pt_BR"
        assert send["body"] == (
            f"Olá, {name}! Temos um plantão de pediatria para você. Podemos conversar?"
        )
    (warm_send,) = sends[warm]
    assert warm_send["template"] is None
    assert warm_send["body"] == "Oi Dr. Diego! Surgiu um plantão de pediatria, quer saber mais?"


async def test_a_campaign_without_a_template_holds_cold_doctors_visibly_in_its_report(
    cloud_stack,
):
    region = f"R{uuid.uuid4().hex[:8]}"
    doctors = [a_phone() for _ in range(3)]
    for i, phone in enumerate(doctors):
        created = await cloud_stack.api.post(
            "/v1/contacts",
            json={
                "phone": phone,
                "name": f"Dra. Fria {i}",
                "specialty": "Clínica",
                "region": region,
            },
        )
        assert created.status_code in (200, 201), created.text
    campaign = await cloud_stack.api.post(
        "/v1/campaigns",
        json={
            "name": "Sem modelo",
            "template": "Olá {primeiro_nome}, temos plantões de {especialidade}.",
            "filter": {"field": "region", "op": "eq", "value": region},
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    started = await cloud_stack.api.post(f"/v1/campaigns/{campaign_id}/start")
    assert started.status_code in (200, 202), started.text

    async def held_in_report():
        answer = await cloud_stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        funnel = answer.json().get("funnel", {}) if answer.status_code == 200 else {}
        return funnel if funnel.get("needs_template") == len(doctors) else None

    funnel = await eventually(held_in_report, timeout=60)
    assert funnel.get("dead", 0) == 0 and funnel.get("sent", 0) == 0
    for phone in doctors:
        assert await received(cloud_stack, phone) == []  # Meta was never called

    # One doctor writes: their window opens and the held text goes out.
    await doctor_writes(cloud_stack, doctors[0])

    async def released():
        return await received(cloud_stack, doctors[0]) or None

    (send,) = await eventually(released, timeout=60)
    assert send["template"] is None
    assert send["body"].endswith("temos plantões de Clínica.")


# ---------------------------------------------------------------------------------------------
# A campaign that names the template: checked at creation, filled per doctor at fan-out


async def create_doctor(stack: Stack, phone: str, name: str, specialty: str | None, region: str):
    fields = {"phone": phone, "name": name, "region": region}
    if specialty is not None:
        fields["specialty"] = specialty
    created = await stack.api.post("/v1/contacts", json=fields)
    assert created.status_code in (200, 201), created.text


async def sync_registry(stack: Stack) -> None:
    async with httpx.AsyncClient(
        base_url=stack.ports.url("dispatcher"), headers={"X-API-Key": TEST_API_KEY}
    ) as dispatcher:
        synced = await dispatcher.post("/v1/templates/sync")
    assert synced.status_code == 200, synced.text


def plantao_campaign(region: str, **template) -> dict:
    return {
        "name": "Plantões de dezembro",
        "template": "Oi {primeiro_nome}! Surgiu um plantão de {especialidade}, quer saber mais?",
        "filter": {"field": "region", "op": "eq", "value": region},
        "max_per_day": None,
        "cloud_template": {
            "name": "plantao_aviso",
            "language": "pt_BR",
            "parameters": [{"field": "first_name"}, {"field": "specialty"}],
            **template,
        },
    }


async def test_a_campaign_naming_an_unusable_template_is_refused_naming_the_field(cloud_stack):
    await cloud_stack.simulator.post(
        "/_sim/templates",
        json={"name": "plantao_em_revisao", "status": "PENDING", "body": "Olá, {{1}}!"},
    )
    await sync_registry(cloud_stack)
    region = f"R{uuid.uuid4().hex[:8]}"
    cases = [
        ({"name": "nao_existe"}, "cloud_template.name", "no template nao_existe (pt_BR)"),
        (
            {"name": "plantao_em_revisao", "parameters": [{"field": "first_name"}]},
            "cloud_template.name",
            "is PENDING, not APPROVED",
        ),
        (
            {"parameters": [{"field": "first_name"}]},
            "cloud_template.parameters",
            "takes 2 body parameters ({{1}}, {{2}}), 1 mapped",
        ),
        (
            {"parameters": [{"field": "first_name"}, {"field": "crm"}]},
            "cloud_template.parameters.1.field",
            "unknown contact field 'crm'",
        ),
    ]
    for template, field, reason in cases:
        answer = await cloud_stack.api.post(
            "/v1/campaigns", json=plantao_campaign(region, **template)
        )
        assert answer.status_code == 422, answer.text
        (error,) = answer.json()["errors"]
        assert error["field"] == field and reason in error["reason"], error


async def test_a_campaign_with_a_template_reaches_cold_doctors_with_their_own_parameters(
    cloud_stack,
):
    await sync_registry(cloud_stack)
    region = f"R{uuid.uuid4().hex[:8]}"
    cold = {a_phone(): ("Ana Souza", "Pediatria"), a_phone(): ("Bruno Lima", "Cardiologia")}
    warm = a_phone()
    incomplete = a_phone()  # no specialty: no template for this doctor
    for phone, (name, specialty) in cold.items():
        await create_doctor(cloud_stack, phone, name, specialty, region)
    await create_doctor(cloud_stack, warm, "Diego Alves", "Ortopedia", region)
    await create_doctor(cloud_stack, incomplete, "Elisa Reis", None, region)
    await doctor_writes(cloud_stack, warm)

    created = await cloud_stack.api.post("/v1/campaigns", json=plantao_campaign(region))
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert created.json()["cloud_template"]["name"] == "plantao_aviso"
    started = await cloud_stack.api.post(f"/v1/campaigns/{campaign_id}/start")
    assert started.status_code == 200, started.text

    async def all_received():
        sends = {p: await received(cloud_stack, p) for p in [*cold, warm]}
        return sends if all(sends.values()) else None

    sends = await eventually(all_received, timeout=60)
    for phone, (name, specialty) in cold.items():
        (send,) = sends[phone]
        assert send["template"] == "plantao_aviso/pt_BR"
        first_name = name.split()[0]
        assert send["body"] == (
            f"Olá, {first_name}! Temos um plantão de {specialty} para você. Podemos conversar?"
        )
    (warm_send,) = sends[warm]
    assert warm_send["template"] is None
    assert warm_send["body"] == "Oi Diego! Surgiu um plantão de Ortopedia, quer saber mais?"

    # The doctor without a specialty is held for a template, visibly; nobody else is.
    async def settled_report():
        answer = await cloud_stack.reporting.get(f"/v1/campaigns/{campaign_id}/report")
        funnel = answer.json().get("funnel", {}) if answer.status_code == 200 else {}
        return funnel if funnel.get("needs_template") == 1 and funnel.get("sent") == 3 else None

    funnel = await eventually(settled_report, timeout=60)
    assert funnel.get("dead", 0) == 0
    assert await received(cloud_stack, incomplete) == []
    campaign = (await cloud_stack.api.get(f"/v1/campaigns/{campaign_id}")).json()
    assert campaign["without_template"] == 1
    assert campaign["requested"] == 4


async def test_a_campaign_template_is_not_accepted_unchecked_while_the_dispatcher_is_down(
    cloud_stack,
):
    region = f"R{uuid.uuid4().hex[:8]}"
    cloud_stack.processes["dispatcher"].stop()
    try:
        answer = await cloud_stack.api.post("/v1/campaigns", json=plantao_campaign(region))
        text_only = {k: v for k, v in plantao_campaign(region).items() if k != "cloud_template"}
        without_template = await cloud_stack.api.post("/v1/campaigns", json=text_only)
    finally:
        cloud_stack.start("dispatcher")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "30"
    assert "cannot be checked now" in answer.json()["detail"]
    assert without_template.status_code == 201, without_template.text


# ---------------------------------------------------------------------------------------------
# A number's quality and tier reach the dispatcher's metrics (what the alert reads)

DISPLAY_NUMBER = "5511955500001"  # sim-cloud-1's display number


async def number_health_changes(stack: Stack, **value: str) -> None:
    answer = await stack.simulator.post(
        "/_sim/account-webhook",
        json={
            "field": "phone_number_quality_update",
            "value": {"display_phone_number": DISPLAY_NUMBER, **value},
        },
    )
    assert answer.status_code == 200 and answer.json()["posted"] is True, answer.text


async def metric_samples(stack: Stack, name: str) -> dict[str, float]:
    """The samples of ``name`` on the dispatcher's /metrics, by their label text."""
    async with httpx.AsyncClient(base_url=stack.ports.url("dispatcher")) as dispatcher:
        text = (await dispatcher.get("/metrics")).text
    return {
        line[len(name) : line.rindex(" ")]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{")
    }


async def test_a_numbers_quality_and_tier_from_meta_show_in_the_dispatchers_gauges(cloud_stack):
    quality = "disparo_dispatcher_sender_quality_rating"
    tier = "disparo_dispatcher_sender_messaging_tier_recipients"
    try:
        await number_health_changes(
            cloud_stack, event="DOWNGRADE", quality_rating="YELLOW", current_limit="TIER_2K"
        )

        async def yellow():
            samples = await metric_samples(cloud_stack, quality)
            return samples if samples.get('{sender="sim-cloud-1"}') == 1.0 else None

        await eventually(yellow, timeout=60)
        tiers = await metric_samples(cloud_stack, tier)
        assert tiers == {'{sender="sim-cloud-1",tier="TIER_2K"}': 2000.0}
    finally:
        await number_health_changes(
            cloud_stack, event="UPGRADE", quality_rating="GREEN", current_limit="TIER_250"
        )

    async def green():
        samples = await metric_samples(cloud_stack, quality)
        return samples if samples.get('{sender="sim-cloud-1"}') == 0.0 else None

    await eventually(green, timeout=60)


# ---------------------------------------------------------------------------------------------
# A follow-up to a doctor who went quiet: outside the window, it goes out as the stage's template


async def test_an_automatic_followup_reaches_a_cold_doctor_as_the_stages_template(cloud_stack):
    await sync_registry(cloud_stack)
    region = f"R{uuid.uuid4().hex[:8]}"
    quiet = a_phone()
    await create_doctor(cloud_stack, quiet, "Fábio Nunes", "Neurologia", region)
    async with httpx.AsyncClient(
        base_url=cloud_stack.ports.url("followup"), headers={"X-API-Key": TEST_API_KEY}
    ) as followup:
        rules = {
            "primeiro_contato": {
                "delay": "PT1S",
                "max_followups": 1,
                "texts": [["Oi {primeiro_nome}, ainda tem interesse no plantão?"]],
                "template": {
                    "name": "plantao_aviso",
                    "language": "pt_BR",
                    "parameters": [{"field": "first_name"}, {"text": "neurologia"}],
                },
            }
        }
        unknown = {"primeiro_contato": {**rules["primeiro_contato"]}}
        unknown["primeiro_contato"]["template"] = {
            **rules["primeiro_contato"]["template"],
            "name": "nao_existe",
        }
        refused = await followup.put(
            "/v1/followup-rules", json={"name": "padrao", "by": "ops", "rules": unknown}
        )
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["errors"]
        assert error["field"] == "rules.primeiro_contato.template.name"
        assert "no template nao_existe (pt_BR)" in error["reason"]
        saved = await followup.put(
            "/v1/followup-rules", json={"name": "padrao", "by": "ops", "rules": rules}
        )
        assert saved.status_code == 200, saved.text
        campaign = plantao_campaign(region)
        campaign["kind"] = "first_contact"  # opens a primeiro_contato conversation
        created = await cloud_stack.api.post("/v1/campaigns", json=campaign)
        assert created.status_code == 201, created.text
        started = await cloud_stack.api.post(f"/v1/campaigns/{created.json()['id']}/start")
        assert started.status_code == 200, started.text

        async def first_sent():
            return await received(cloud_stack, quiet) or None

        (first,) = await eventually(first_sent, timeout=60)
        assert first["template"] == "plantao_aviso/pt_BR"

        async def followup_sent():
            # followup learns the conversation from message.sent, a moment after the send:
            # run the job (idempotent) until this doctor's follow-up went out
            answer = await followup.post("/v1/admin/followups/run")
            assert answer.status_code == 200, answer.text
            sends = await received(cloud_stack, quiet)
            return sends if len(sends) == 2 else None

        _, reminder = await eventually(followup_sent, timeout=90, interval=1.0)
    assert reminder["template"] == "plantao_aviso/pt_BR"
    assert reminder["body"] == (
        "Olá, Fábio! Temos um plantão de neurologia para você. Podemos conversar?"
    )
