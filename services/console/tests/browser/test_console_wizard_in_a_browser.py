"""A campaign with its own follow-up plan, made in the Nova campanha wizard and followed on its
page in a real headless Chromium: the plan previewed as typed, carried to the draft and its
start, then the follow-up breakdown moving as the follow-up goes out and doctors answer it.

Its doctors are neurologists of their own region and the simulator stays silent for them (a
follow-up goes only to who did not answer), so the other browser tests are left as they were.
"""

import random
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import ConsoleStack, log_in

pytestmark = pytest.mark.e2e

REGION = "Região Follow-up"
CAMPAIGN = "Neurologia com follow-up"
FOLLOW_UP = "Oi {primeiro_nome}, viu os plantões de neurologia?"


@pytest.fixture(scope="module")
def neurologists(console_stack: ConsoleStack) -> list[str]:
    rng = random.Random(41)
    phones = []
    for n in range(3):
        phone = f"+55319{rng.randrange(10**7, 10**8):08d}"
        answer = console_stack.api.post(
            "/v1/contacts",
            json={"phone": phone, "name": f"Dra. Neuro {n}", "specialty": "Neurologia",
                  "region": REGION},
        )  # fmt: skip
        assert answer.status_code in (200, 201), answer.text
        phones.append(phone)
    return phones


@pytest.fixture(scope="module")
def silent_doctors(console_stack: ConsoleStack) -> Iterator[httpx.Client]:
    """The simulator's doctors answer nothing by themselves while this module runs."""
    with httpx.Client(base_url=console_stack.simulator_url, timeout=10) as simulator:
        before = simulator.get("/_sim/config").json()["reply_probability"]
        assert simulator.put("/_sim/config", json={"reply_probability": 0.0}).status_code == 200
        try:
            yield simulator
        finally:
            simulator.put("/_sim/config", json={"reply_probability": before})


@pytest.fixture(scope="module")
def recruiter(browser: Browser, console_stack: ConsoleStack) -> Page:
    return log_in(browser, console_stack, "ana")


def _write(simulator: httpx.Client, phone: str, text: str) -> None:
    """The doctor at ``phone`` writes ``text`` to the number that wrote to them."""
    [first, *_] = simulator.get("/_sim/sends", params={"recipient": phone.lstrip("+")}).json()
    answer = simulator.post(
        "/_sim/inbound",
        json={"dialect": first["dialect"], "sender": first["sender"],
              "from": phone.lstrip("+"), "text": text},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_create_a_campaign_with_its_own_follow_up_plan_and_watch_its_breakdown(
    recruiter: Page, console_stack: ConsoleStack, neurologists: list[str],
    silent_doctors: httpx.Client,
):  # fmt: skip
    page = recruiter
    page.goto("/campanhas/nova")
    page.get_by_label("Nome da campanha").fill(CAMPAIGN)
    page.locator("#cond-0-field").select_option("region")
    expect(page.locator("#cond-0-hint")).to_contain_text("ABC")  # redrawn for the region
    page.locator("#cond-0-value").fill(REGION)
    expect(page.locator("#contagem-total")).to_have_attribute("data-count", "3")
    page.get_by_label("Mensagem (Modelo)").fill("Olá, {primeiro_nome}! Plantões de neurologia.")

    page.get_by_label("Plano próprio desta campanha").check()  # the form is redrawn with it
    expect(page.get_by_label("Esperar após a última mensagem")).to_be_visible()
    expect(page.locator("#cond-0-value")).to_have_value(REGION)  # what was typed stays
    page.get_by_label("Esperar após a última mensagem").fill("2s")
    page.get_by_label("Follow-ups no máximo (1 a 5)").fill("1")
    page.get_by_label("Follow-ups no máximo (1 a 5)").press("Tab")
    expect(page.locator("#plano-texto-1")).to_have_count(0)  # one box for one follow-up
    expect(page.get_by_label("Esperar após a última mensagem")).to_have_value("2s")
    page.get_by_label("Texto do 1º follow-up").fill("Oi {primeiro_nome}, viu? {")
    page.locator("#criar").click()  # campaign-api refuses the text: said beside its box
    expect(page.locator("#erro-plano-texto-0")).to_contain_text("Este texto tem um erro na posição")
    expect(page.get_by_label("Texto do 1º follow-up")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Texto do 1º follow-up").fill(FOLLOW_UP)
    preview = page.locator("#previa-followup")
    expect(preview).to_contain_text("Oi Dra., viu os plantões de neurologia?")  # a sample doctor
    console_stack.shoot(page, "nova-campanha-follow-up")
    page.locator("#criar").dblclick()  # still one campaign
    page.wait_for_url(re.compile(r"/campanhas/[0-9a-f-]{36}$"))
    campaign_url = page.url
    expect(page.locator("#plano-e-modelo [data-followup-mode='proprio']")).to_contain_text(
        "até 1 follow-ups"
    )
    named = [c for c in console_stack.api.get("/v1/campaigns").json()["items"]
             if c["name"] == CAMPAIGN]  # fmt: skip
    assert len(named) == 1
    assert named[0]["followups"] == {"delay": "2s", "max": 1, "texts": [[FOLLOW_UP]]}

    page.get_by_role("link", name="Disparar agora").click()
    expect(page.locator("#plano-e-modelo")).to_contain_text("Plano próprio desta campanha")
    page.get_by_role("button", name="Sim, disparar").click()
    page.wait_for_url(campaign_url)
    expect(page.locator("[data-funnel='sent']")).to_have_text("3", timeout=60_000)

    # the plan's delay passes and the follow-up job runs: the follow-up goes to all three
    followups = page.locator("#followups-da-campanha")
    deadline = time.monotonic() + 90
    while not followups.locator("tr[data-attempt='1']").count():
        assert time.monotonic() < deadline, "the follow-up never went out"
        page.goto("/follow-ups")
        page.get_by_role("button", name="Executar follow-ups agora").click()
        page.goto(campaign_url)
        page.wait_for_timeout(1000)
    first = followups.locator("tr[data-attempt='1']")
    expect(first.locator("[data-followup='sent']")).to_have_text("3", timeout=60_000)

    # one doctor answers the follow-up, another asks to stop: the page moves by itself
    _write(silent_doctors, neurologists[0], "Vi sim, quais datas?")
    _write(silent_doctors, neurologists[1], "PARAR")
    expect(first.locator("[data-followup='replied']")).to_have_text("2", timeout=60_000)
    expect(first.locator("[data-followup='opted_out']")).to_have_text("1", timeout=60_000)
    original = followups.locator("tr[data-attempt='0']")
    expect(original.locator("[data-followup='sent']")).to_have_text("3")
    expect(original.locator("[data-followup='replied']")).to_have_text("0")
    expect(page.locator("#followups-parados")).to_contain_text("descadastro 1")
    console_stack.shoot(page, "campanha-follow-ups")
