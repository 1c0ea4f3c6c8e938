"""The Painel's alerts, the doctor's page and search, the audience's exclusions and the numbers'
health, over plain HTTP against the whole stack (the same one the browser tests drive).

The doctors here are cardiologists of their own region, so these tests stand alone and do not
disturb the browser tests' pediatricians, whichever runs first.
"""

import random
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from .conftest import PASSWORD, ConsoleStack

pytestmark = pytest.mark.e2e

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
REGION = "Região HTTP"


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture(scope="module")
def admin(console_stack: ConsoleStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_stack.url, timeout=30, follow_redirects=True) as client:
        token = _csrf(client.get("/entrar").text)
        answer = client.post(
            "/entrar", data={"_csrf": token, "username": "ana", "password": PASSWORD}
        )
        assert answer.status_code == 200 and "Painel" in answer.text
        yield client


@pytest.fixture(scope="module")
def cardiologists(console_stack: ConsoleStack) -> list[dict]:
    """Four cardiologists, the last of them opted out."""
    rng = random.Random(31)
    made = []
    for n in range(4):
        phone = f"+55219{rng.randrange(10**7, 10**8):08d}"
        answer = console_stack.api.post(
            "/v1/contacts",
            json={"phone": phone, "name": f"Dr. Cardio Http {n}", "specialty": "Cardiologia",
                  "region": REGION},
        )  # fmt: skip
        assert answer.status_code in (200, 201), answer.text
        made.append({**answer.json(), "phone": phone})
    out = console_stack.api.post(
        f"/v1/contacts/{made[-1]['id']}/opt-out", json={"reason": "pediu por telefone"}
    )
    assert out.status_code == 200, out.text
    return made


def test_doctors_are_found_by_a_piece_of_the_name_or_a_phone_shown_masked(
    admin: httpx.Client, cardiologists: list[dict]
):
    found = admin.get("/medicos", params={"busca": "cardio http"})
    assert found.status_code == 200
    assert found.text.count('">Dr. Cardio Http ') == 4
    assert all(d["phone"] not in found.text for d in cardiologists)  # masked in display
    national = cardiologists[1]["phone"][3:]  # "21 9…" written as a Brazilian would
    by_phone = admin.get("/medicos", params={"busca": f"({national[:2]}) {national[2:]}"})
    assert by_phone.text.count('">Dr. Cardio Http ') == 1 and "Dr. Cardio Http 1" in by_phone.text
    ending = cardiologists[2]["phone"][-6:]  # the last digits, as read off a call log
    by_end = admin.get("/medicos", params={"busca": ending})
    assert "Dr. Cardio Http 2" in by_end.text and cardiologists[2]["phone"] not in by_end.text
    unaccented = admin.get("/medicos", params={"busca": "cárdio http 3"})  # accents ignored
    assert "Dr. Cardio Http 3" in unaccented.text
    refused = admin.get("/medicos", params={"busca": "x"})
    assert refused.status_code == 422 and "Busca não aceita" in refused.text
    too_short = admin.get("/medicos", params={"busca": "123"})
    assert too_short.status_code == 422 and "4 últimos dígitos" in too_short.text


def test_the_audience_count_shows_what_the_filter_matched_and_who_it_leaves_out(
    admin: httpx.Client, cardiologists: list[dict]
):
    form = admin.get("/campanhas/nova")
    answer = admin.post(
        "/campanhas/nova/contagem",
        data={"_csrf": _csrf(form.text), "combinator": "all", "cond-0-field": "region",
              "cond-0-op": "eq", "cond-0-value": REGION},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert 'data-count="3"' in answer.text  # the audience
    assert 'data-matched="4"' in answer.text
    assert "4 correspondem ao filtro → <span" in answer.text
    assert 'data-excluded="opted_out" data-count="1">−1 descadastrados' in answer.text


def test_a_doctors_page_has_their_messages_across_campaigns_and_their_consent(
    admin: httpx.Client, console_stack: ConsoleStack, cardiologists: list[dict]
):
    name = f"Cardiologia HTTP {uuid.uuid4().hex[:6]}"
    created = console_stack.api.post(
        "/v1/campaigns",
        json={"name": name, "template": "Olá, {nome}! Plantão de cardiologia?",
              "filter": {"all": [{"field": "region", "op": "eq", "value": REGION}]}},
    ).json()  # fmt: skip
    started = console_stack.api.post(f"/v1/campaigns/{created['id']}/start")
    assert started.status_code == 200, started.text

    doctor = cardiologists[0]
    deadline = time.monotonic() + 60  # the simulator sends, delivers and replies in ~1 s
    while True:
        shown = admin.get(f"/medicos/{doctor['id']}")
        replied = "Médico respondeu" in shown.text and "Campanha enviada" in shown.text
        if replied or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert shown.status_code == 200
    timeline = shown.text[shown.text.index('id="linha-do-tempo"') :]
    assert "Campanha enviada" in timeline and "Médico respondeu" in timeline
    assert f'href="/campanhas/{created["id"]}">{name}</a>' in timeline
    assert "Olá, Dr. Cardio Http 0! Plantão de cardiologia?</span>" in timeline  # our text
    assert '<small class="state">Enviada</small>' in timeline
    assert doctor["phone"] not in shown.text
    assert 'id="consentimento"' in shown.text  # in or out: the simulated reply may say "sair"

    out = admin.get(f"/medicos/{cardiologists[-1]['id']}")
    assert "Descadastrado" in out.text and "pediu por telefone" in out.text
    assert "Nenhuma mensagem trocada com este médico." in out.text  # never reached


def test_the_numbers_page_shows_quality_tier_and_todays_use(
    admin: httpx.Client, console_stack: ConsoleStack
):
    senders = console_stack.dispatcher.get("/v1/senders").json()
    shown = admin.get("/numeros")
    assert shown.status_code == 200
    for s in senders:
        row = shown.text[shown.text.index(f'data-sender="{s["sender_id"]}"') :]
        row = row[: row.index("</tr>")]
        assert f'data-today="{s["sent_today"]}"' in row
        assert row.count("Não se aplica (Evolution)") == 2  # no Meta quality, no Meta tier


def test_the_panel_raises_an_alert_for_a_paused_number_linking_where_to_act(
    admin: httpx.Client, console_stack: ConsoleStack
):
    sender = console_stack.dispatcher.get("/v1/senders").json()[0]["sender_id"]

    def sent_today() -> int:
        return sum(s["sent_today"] for s in console_stack.dispatcher.get("/v1/senders").json())

    before = sent_today()
    calm = admin.get("/")
    after = sent_today()  # a campaign may still be sending: the page's sum lies in between
    assert calm.status_code == 200 and "Alertas ativos" in calm.text
    shown = int(re.search(r'id="enviadas-hoje" data-sent="(\d+)"', calm.text).group(1))
    assert 0 < before <= shown <= after
    assert "Mensagem mais antiga esperando" in calm.text
    paused = console_stack.dispatcher.patch(
        f"/v1/senders/{sender}", json={"status": "paused", "pause_reason": "teste HTTP"}
    )
    assert paused.status_code == 200, paused.text
    try:
        live = admin.get("/painel/ao-vivo")
        alert = live.text[live.text.index('data-alert="sender_paused"') :]
        alert = alert[: alert.index("</li>")]
        assert f'<a href="/numeros">Número {sender} está pausado (teste HTTP)</a>' in alert
    finally:
        console_stack.dispatcher.patch(f"/v1/senders/{sender}", json={"status": "active"})
    assert 'data-alert="sender_paused"' not in admin.get("/painel/ao-vivo").text


def test_the_failures_page_has_the_sends_held_in_doubt(admin: httpx.Client):
    shown = admin.get("/falhas")
    assert shown.status_code == 200
    assert 'id="em-duvida"' in shown.text and "Nenhum envio retido em dúvida." in shown.text


def test_a_viewer_cannot_send_held_sends_again(console_stack: ConsoleStack):
    with httpx.Client(base_url=console_stack.url, timeout=30, follow_redirects=True) as viewer:
        token = _csrf(viewer.get("/entrar").text)
        viewer.post("/entrar", data={"_csrf": token, "username": "vera", "password": PASSWORD})
        page = viewer.get("/falhas")
        token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
        assert "Reenviar (confirmei que não saíram)" not in page.text
        refused = viewer.post(f"/falhas/em-duvida/{uuid.uuid4()}", data={"_csrf": token})
        assert refused.status_code == 403


def test_follow_up_rules_are_saved_in_the_users_name_and_a_stale_edit_is_refused(
    admin: httpx.Client, console_stack: ConsoleStack
):
    form = admin.get("/follow-ups/padrao/editar")
    assert form.status_code == 200
    version = re.search(r'name="expected_version" value="(\d+)"', form.text).group(1)
    fields = {"_csrf": _csrf(form.text), "expected_version": version,
              "primeiro_contato-delay": "4d", "primeiro_contato-max": "1",
              "primeiro_contato-texts-0": "Olá, {nome}! Ainda procura plantões?"}  # fmt: skip
    refused = admin.post("/follow-ups/padrao/editar", data={**fields, "primeiro_contato-max": "x"})
    assert refused.status_code == 422 and 'href="#primeiro_contato-max"' in refused.text

    saved = admin.post("/follow-ups/padrao/editar", data=fields)
    assert saved.status_code == 200 and "Regras “padrao” salvas" in saved.text
    assert "Última mudança por ana" in saved.text and "4d" in saved.text
    stale = admin.post("/follow-ups/padrao/editar", data=fields)  # the version read before
    assert stale.status_code == 409 and "Outra pessoa salvou uma versão mais nova" in stale.text


def test_a_viewer_cannot_edit_follow_up_rules(console_stack: ConsoleStack):
    with httpx.Client(base_url=console_stack.url, timeout=30, follow_redirects=True) as viewer:
        token = _csrf(viewer.get("/entrar").text)
        viewer.post("/entrar", data={"_csrf": token, "username": "vera", "password": PASSWORD})
        assert "Editar regras" not in viewer.get("/follow-ups").text
        assert viewer.get("/follow-ups/padrao/editar").status_code == 403


def test_a_number_not_on_whatsapp_ends_dead_on_falhas_and_in_the_panels_alerts(
    admin: httpx.Client, console_stack: ConsoleStack
):
    phone = f"+55219{random.Random(41).randrange(10**7, 10**8):08d}"
    region = f"Região morta {uuid.uuid4().hex[:6]}"
    console_stack.api.post(
        "/v1/contacts", json={"phone": phone, "name": "Dr. Sem WhatsApp", "region": region}
    ).raise_for_status()
    with httpx.Client(base_url=console_stack.simulator_url, timeout=10) as simulator:
        simulator.put("/_sim/faults", json={"permanent_numbers": [phone.lstrip("+")]})
        try:
            name = f"Sem WhatsApp {region}"
            draft = console_stack.api.post(
                "/v1/campaigns",
                json={"name": name, "template": "Olá, {nome}!",
                      "filter": {"all": [{"field": "region", "op": "eq", "value": region}]}},
            ).json()  # fmt: skip
            console_stack.api.post(f"/v1/campaigns/{draft['id']}/start").raise_for_status()
            deadline = time.monotonic() + 60
            while name not in (failures := admin.get("/falhas")).text:
                assert time.monotonic() < deadline, "the dead message never reached Falhas"
                time.sleep(0.5)
        finally:
            simulator.put("/_sim/faults", json={"permanent_numbers": []})
    row = failures.text[failures.text.index(f">{name}</a>") :]
    row = row[: row.index("</tr>")]
    assert "<td>1</td>" in row  # one dead message, its error explained beside it
    assert "Reenfileirar as falhas" in row
    deadline = time.monotonic() + 30  # the dispatcher's next periodic read of the queue
    while 'data-alert="dead"' not in (panel := admin.get("/painel/ao-vivo")).text:
        assert time.monotonic() < deadline, "no dead-letter alert on the Painel"
        time.sleep(0.5)
    alert = panel.text[panel.text.index('data-alert="dead"') :]
    assert '<a href="/falhas">' in alert[: alert.index("</li>")]
