"""The official Cloud API end to end, the services as processes over one Cloud number:

- cold doctors get the approved template with their parameters (the simulator's received
  bodies are the filled template);
- a doctor who wrote in the last 24 h gets the free text instead;
- a campaign with no template holds its cold recipients as ``needs_template``, visible in the
  campaign report, none dead; a doctor who then writes gets the text.

The campaign goes through campaign-api; the template sends are requested on the bus
(``messages.requested`` carrying a template), as campaign-api and followup will once campaigns
name a template.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

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
            qualified(stack.stream_prefix, event.subject),
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
