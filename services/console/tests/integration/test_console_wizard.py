"""The Nova campanha wizard's follow-up plan and Cloud template steps against fake services:
what each step shows, what the POST carries to campaign-api, and its refusals placed beside
the field they name, in Portuguese."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from disparo_console.auth.roles import Role
from disparo_console.auth.users import create_user

from ..conftest import PASSWORD, csrf_of, log_in

SAMPLE = [
    {
        "id": "3f1c9a52-5b8e-4d4c-9a57-1b1e2f0c0a01",
        "phone": "+5511*******21",
        "name": "Ana Souza",
        "specialty": "Pediatria",
        "region": "Zona Sul",
        "tags": [],
    }
]
TEMPLATE_ROWS = [
    {"waba_id": "w1", "name": "plantao_aviso", "language": "pt_BR", "category": "MARKETING",
     "status": "APPROVED", "body": "Olá, {{1}}! Plantões de {{2}} abertos.",
     "parameters": ["1", "2"]},
    {"waba_id": "w1", "name": "rascunho_velho", "language": "pt_BR", "category": "MARKETING",
     "status": "REJECTED", "body": "x", "parameters": []},
]  # fmt: skip
CREATED_ID = "7d0e8a35-1f0a-4b7e-8e43-3c2a1d1e9b10"
RULE_SETS = [
    {
        "name": "padrao",
        "version": 0,
        "rules": {
            "primeiro_contato": {
                "delay": "3d",
                "max_followups": 1,
                "texts": [["Oi {nome}! Ainda tem interesse?"]],
            }
        },
    }
]


@dataclass
class FakeServices:
    """campaign-api, dispatcher and followup as the wizard asks them; ``create_answer`` is the
    status and body campaign-api answers the POST with."""

    providers: tuple[str, ...] = ("evolution",)
    create_answer: tuple[int, dict[str, Any]] = (201, {"id": CREATED_ID})
    created: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/v1/segments/preview":
            return httpx.Response(200, json={"count": 1, "matched": 1, "excluded": [],
                                             "sample": SAMPLE, "estimated_send_seconds": 60,
                                             "estimate_note": ""})  # fmt: skip
        if path == "/v1/segments/predefined":
            return httpx.Response(200, json=[])
        if path == "/v1/segments":
            return httpx.Response(200, json={"items": []})
        if path == "/v1/followup-rules":
            return httpx.Response(200, json={"rule_sets": RULE_SETS})
        if path == "/v1/senders":
            numbers = [{"sender_id": f"n{i}", "provider": p, "status": "active"}
                       for i, p in enumerate(self.providers)]  # fmt: skip
            return httpx.Response(200, json=numbers)
        if path == "/v1/templates":
            return httpx.Response(200, json=TEMPLATE_ROWS)
        if path == "/v1/campaigns" and method == "POST":
            self.created.append(json.loads(request.content))
            status, body = self.create_answer
            return httpx.Response(status, json=body)
        return httpx.Response(404, json={"title": "Not Found"})


@pytest.fixture
def fake() -> FakeServices:
    return FakeServices()


@pytest.fixture
def recruiter(console_client: TestClient, fake: FakeServices) -> Iterator[TestClient]:
    ctx = console_client.app.state.console
    transport = httpx.MockTransport(fake.answer)
    for name, http in list(ctx.connections.http.items()):
        ctx.connections.http[name] = httpx.AsyncClient(
            base_url=str(http.base_url), headers=http.headers, transport=transport
        )
    console_client.blocking_portal.call(
        create_user, ctx.db(), "rui", "Rui", Role.RECRUITER, PASSWORD, ctx.clock()
    )
    assert log_in(console_client, "rui").status_code in (302, 303)
    yield console_client


def _post(client: TestClient, **fields: str) -> httpx.Response:
    page = client.get("/campanhas/nova")
    data = {"_csrf": csrf_of(page.text), "idempotency_key": "k-1", "name": "Plantões",
            "template": "Olá, {primeiro_nome}!", "rows": "1", "cond-0-field": "specialty",
            "cond-0-op": "eq", "cond-0-value": "Pediatria", "acao": "criar", **fields}  # fmt: skip
    return client.post("/campanhas/nova", data=data, follow_redirects=False)


def test_an_own_follow_up_plan_goes_to_campaign_api_and_is_previewed_for_a_sample_doctor(
    recruiter: TestClient, fake: FakeServices
):
    shown = recruiter.post(
        "/campanhas/nova",
        data={"_csrf": csrf_of(recruiter.get("/campanhas/nova").text), "acao": "atualizar",
              "plano": "proprio", "plano-delay": "2d", "plano-max": "2",
              "plano-texto-0": "Oi {primeiro_nome}, viu a vaga?",
              "plano-texto-1": "E aí, {nome}?\n---\nOlá de novo, {nome}!"},
    )  # fmt: skip
    assert shown.status_code == 200
    assert 'id="plano-texto-1"' in shown.text and 'id="plano-texto-2"' not in shown.text
    assert "2 d após a mensagem da campanha" in shown.text
    assert "4 d após a mensagem da campanha" in shown.text
    assert "Oi Ana, viu a vaga?" in shown.text and "Olá de novo, Ana Souza!" in shown.text
    assert 'id="modelo-cloud"' not in shown.text  # only Evolution numbers: no template step

    answer = _post(recruiter, plano="proprio", **{"plano-delay": "2d", "plano-max": "2",
                   "plano-texto-0": "Oi {nome}!", "plano-texto-1": "E aí?\n---\nOlá!"})  # fmt: skip
    assert answer.status_code in (302, 303)
    assert fake.created[-1]["followups"] == {
        "delay": "2d",
        "max": 2,
        "texts": [["Oi {nome}!"], ["E aí?", "Olá!"]],
    }
    assert "cloud_template" not in fake.created[-1]


def test_none_and_a_rule_set_are_carried_as_campaign_api_writes_them(
    recruiter: TestClient, fake: FakeServices
):
    _post(recruiter, plano="nenhum")
    _post(recruiter, plano="regras", **{"plano-regras": "padrao"})
    _post(recruiter, plano="padrao")
    assert fake.created[0]["followups"] == "none"
    assert fake.created[1]["followups"] == {"rule_set": "padrao"}
    assert "followups" not in fake.created[2]  # the default rules: left out


def test_a_cloud_number_brings_the_template_step_with_its_mapping_and_preview(
    recruiter: TestClient, fake: FakeServices
):
    fake.providers = ("evolution", "cloud")
    empty = recruiter.get("/campanhas/nova").text
    assert 'id="modelo-cloud"' in empty
    assert "plantao_aviso (pt_BR, marketing)" in empty and "rascunho_velho" not in empty

    shown = recruiter.post(
        "/campanhas/nova",
        data={"_csrf": csrf_of(empty), "acao": "atualizar", "modelo_cloud": "plantao_aviso|pt_BR",
              "param-0-field": "first_name", "param-1-field": "text",
              "param-1-value": "Pediatria"},
    )  # fmt: skip
    assert 'id="param-1-field"' in shown.text and 'id="param-2-field"' not in shown.text
    assert "Olá, Ana! Plantões de Pediatria abertos." in shown.text

    _post(recruiter, modelo_cloud="plantao_aviso|pt_BR", **{
        "param-0-field": "first_name", "param-1-field": "specialty",
        "param-1-fallback": "clínica"})  # fmt: skip
    assert fake.created[-1]["cloud_template"] == {
        "name": "plantao_aviso",
        "language": "pt_BR",
        "parameters": [{"field": "first_name"}, {"field": "specialty", "fallback": "clínica"}],
    }


def test_refusals_are_shown_in_portuguese_beside_the_field_they_name(
    recruiter: TestClient, fake: FakeServices
):
    fake.create_answer = (422, {"title": "Invalid request", "errors": [
        {"field": "followups.texts[1][0]",
         "reason": "repeats a text of follow-up 1: a reminder must differ"},
        {"field": "followups.delay",
         "reason": "at least 30m after our last message"}]})  # fmt: skip
    answer = _post(recruiter, plano="proprio", **{"plano-delay": "5m", "plano-max": "2",
                   "plano-texto-0": "Oi!", "plano-texto-1": "Oi!"})  # fmt: skip
    assert answer.status_code == 422
    html = answer.text
    box = html.index('id="plano-texto-1"')
    refusal = html.index("Este texto repete o de outro follow-up", box)
    assert refusal - box < 400  # right after the box it names
    assert 'id="plano-delay" name="plano-delay"' in html
    assert "O prazo é curto demais: pelo menos 30 minutos" in html
    assert 'value="5m"' in html  # what was typed stays
    assert 'class="marked"' not in html  # the message is not at fault: not marked
    assert 'name="idempotency_key" value="k-1"' in html  # a retry is still the same campaign


def test_a_registry_that_cannot_be_asked_is_said_at_the_template_and_the_form_kept(
    recruiter: TestClient, fake: FakeServices
):
    fake.providers = ("cloud",)
    fake.create_answer = (503, {"title": "Template registry unavailable",
                                "detail": "cloud_template cannot be checked now: the dispatcher"
                                          " did not answer (ConnectError); try again"})  # fmt: skip
    answer = _post(recruiter, modelo_cloud="plantao_aviso|pt_BR", **{
        "param-0-field": "first_name", "param-1-field": "region"})  # fmt: skip
    assert answer.status_code == 503
    select = answer.text.index('id="modelo_cloud"')
    assert answer.text.index("O registro de modelos não pôde ser consultado agora", select) > 0
    assert '<option value="plantao_aviso|pt_BR" selected>' in answer.text
