"""A campaign over a Cloud API number, made in the Nova campanha wizard in a real headless
Chromium: the approved template chosen from the dispatcher's registry, its first parameter
mapped to the doctor's first name, the preview filled for a sample doctor, and the simulator's
Meta receiving the template with each doctor's own first name.

Its stack is its own (one Cloud number, no Evolution ones, its own database): the package's
stack has Evolution numbers only and the other browser tests count on that.
"""

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import CHROMIUM_ARGS, ConsoleStack, fresh_database, log_in, running_stack

pytestmark = pytest.mark.e2e

REGION = "Região Cloud"
CAMPAIGN = "Cardiologia pela API Cloud"
TEMPLATE = "plantao_aviso|pt_BR"  # the simulated account's approved template (processes.py)
DOCTORS = {"Helena Prado": "Cardiologia", "Otávio Lima": "Cardiologia"}


@pytest.fixture(scope="module")
async def cloud_database_url(test_servers, template_database) -> AsyncIterator[str]:
    async with fresh_database(test_servers, template_database) as url:
        yield url


@pytest.fixture(scope="module")
def cloud_stack(chromium_path, test_servers, cloud_database_url) -> Iterator[ConsoleStack]:
    with running_stack(
        test_servers, cloud_database_url, evolution_numbers=0, cloud_numbers=1
    ) as stack:
        synced = stack.dispatcher.post("/v1/templates/sync", timeout=60)
        assert synced.status_code in (200, 202), synced.text
        yield stack


@pytest.fixture(scope="module")
def cloud_browser(chromium_path, cloud_stack) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def doctors(cloud_stack: ConsoleStack) -> dict[str, str]:
    """Phone (digits, as the simulator lists them) to name."""
    phones = {}
    for name, specialty in DOCTORS.items():
        phone = f"+551197{uuid.uuid4().int % 10**7:07d}"
        answer = cloud_stack.api.post(
            "/v1/contacts",
            json={"phone": phone, "name": name, "specialty": specialty, "region": REGION},
        )
        assert answer.status_code in (200, 201), answer.text
        phones[phone.lstrip("+")] = name
    return phones


def _template_sends(simulator: httpx.Client, phones: list[str]) -> dict[str, list[dict]]:
    return {p: simulator.get("/_sim/sends", params={"recipient": p}).json() for p in phones}


def test_a_campaign_on_a_cloud_number_sends_the_chosen_template_with_each_first_name(
    cloud_browser: Browser, cloud_stack: ConsoleStack, doctors: dict[str, str]
):
    page: Page = log_in(cloud_browser, cloud_stack, "ana")
    page.goto("/campanhas/nova")
    page.get_by_label("Nome da campanha").fill(CAMPAIGN)
    page.locator("#cond-0-field").select_option("region")
    # the form is redrawn for the region: a later choice made before that lands is lost
    expect(page.locator("#cond-0-hint")).to_contain_text("ABC")
    page.locator("#cond-0-value").fill(REGION)
    expect(page.locator("#contagem-total")).to_have_attribute("data-count", "2")
    page.get_by_label("Mensagem (Modelo)").fill("Olá, {primeiro_nome}! Plantões de cardiologia.")

    expect(page.locator("#modelo-cloud")).to_be_visible()  # a Cloud number: the step shows
    page.get_by_label("Modelo aprovado").select_option(TEMPLATE)  # the form is redrawn with it
    expect(page.locator("#modelo-cloud-corpo")).to_contain_text("Olá, {{1}}!")
    expect(page.locator("#cond-0-value")).to_have_value(REGION)  # what was typed stays
    page.get_by_label("Campo do médico para {{1}}").select_option("name")
    page.get_by_label("Campo do médico para {{1}}").select_option("first_name")
    page.get_by_label("Campo do médico para {{2}}").select_option("specialty")

    previews = page.locator("#previa-cloud [data-cloud-preview]")
    expect(previews.first).to_be_visible()
    sample = previews.first.locator("figcaption").inner_text()
    sample_name = next(n for n in DOCTORS if n in sample)
    first_name = sample_name.split()[0]
    expect(previews.first.locator("blockquote")).to_have_text(
        f"Olá, {first_name}! Temos um plantão de Cardiologia para você. Podemos conversar?"
    )
    cloud_stack.shoot(page, "nova-campanha-modelo-cloud")
    page.locator("#criar").click()
    page.wait_for_url(re.compile(r"/campanhas/[0-9a-f-]{36}$"))
    campaign_url = page.url
    (campaign,) = [c for c in cloud_stack.api.get("/v1/campaigns").json()["items"]
                   if c["name"] == CAMPAIGN]  # fmt: skip
    chosen = campaign["cloud_template"]
    assert (chosen["name"], chosen["language"]) == ("plantao_aviso", "pt_BR")
    assert [p["field"] for p in chosen["parameters"]] == ["first_name", "specialty"]

    page.get_by_role("link", name="Disparar agora").click()
    page.get_by_role("button", name="Sim, disparar").click()
    page.wait_for_url(campaign_url)

    # cold doctors on a Cloud number: Meta gets the template, filled with their own names
    with httpx.Client(base_url=cloud_stack.simulator_url, timeout=10) as simulator:
        deadline = time.monotonic() + 90
        while not all((sends := _template_sends(simulator, list(doctors))).values()):
            assert time.monotonic() < deadline, f"not every doctor got a send: {sends}"
            time.sleep(1)
    for phone, name in doctors.items():
        (send,) = sends[phone]
        assert send["template"] == "plantao_aviso/pt_BR"
        assert send["body"] == (
            f"Olá, {name.split()[0]}! Temos um plantão de Cardiologia para você. Podemos conversar?"
        )
    expect(page.locator("[data-funnel='sent']")).to_have_text("2", timeout=60_000)
