"""The console as a recruiter uses it, in a real headless Chromium against the whole stack.

The tests run in order on one stack: the doctors imported first are the audience of the
campaign built next, whose funnel moves as the simulator sends, delivers, reads and replies.
"""

import random
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import ConsoleStack, log_in

pytestmark = pytest.mark.e2e

CAMPAIGN = "Plantões de pediatria — dezembro"


def _phone(rng: random.Random) -> str:
    return f"+55119{rng.randrange(10**7, 10**8):08d}"


def _doctors_csv(rng: random.Random) -> str:
    rows = ["phone,name,specialty,region,tags"]
    for n in range(8):
        rows.append(f"{_phone(rng)},Dra. Pediatra {n},Pediatria,ABC,disponível")
    for n in range(12):
        rows.append(f"{_phone(rng)},Dr. Clínico {n},Clínica Médica,Centro,noturno")
    rows.append("12345,Dr. Sem Telefone,Pediatria,ABC,")  # the bad row
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def admin(browser: Browser, console_stack: ConsoleStack) -> Page:
    return log_in(browser, console_stack, "ana")


def test_log_in_and_see_the_panel(admin: Page, console_stack: ConsoleStack):
    expect(admin.get_by_role("heading", name="Painel", level=1)).to_be_visible()
    expect(admin.get_by_role("navigation", name="Seções")).to_contain_text("Campanhas")


def test_import_a_csv_with_a_bad_row_and_see_it_reported(admin: Page, console_stack: ConsoleStack):
    admin.goto("/medicos/importar")
    admin.get_by_label("Arquivo CSV").set_input_files(
        files=[
            {
                "name": "medicos.csv",
                "mimeType": "text/csv",
                "buffer": _doctors_csv(random.Random(7)).encode(),
            }
        ]  # fmt: skip
    )
    held = []  # the upload, held until the progress bar has been seen
    admin.route("**/medicos/importar", lambda route: held.append(route))
    admin.get_by_role("button", name="Importar").click()
    expect(admin.locator("#progresso-envio")).to_be_visible()
    expect(admin.get_by_role("button", name="Importar")).to_be_disabled()
    for _ in range(100):  # the request reaches the route a moment after the click
        if held:
            break
        admin.wait_for_timeout(100)
    held[0].continue_()
    admin.unroute("**/medicos/importar")
    expect(admin.get_by_role("heading", name="Resultado da importação")).to_be_visible()
    expect(admin.locator("[data-invalid]")).to_have_attribute("data-invalid", "1")
    invalid = admin.locator("#linhas-invalidas tbody tr")
    expect(invalid).to_have_count(1)
    expect(invalid.first).to_contain_text("22")  # the header is row 1, the bad row is row 22
    console_stack.shoot(admin, "importacao")

    with admin.expect_download() as download:
        admin.get_by_role("link", name="Baixar linhas inválidas (CSV)").click()
    assert "22" in download.value.path().read_text(encoding="utf-8")

    admin.goto("/medicos?specialty=Pediatria")
    expect(admin.locator("table tbody tr")).to_have_count(8)
    console_stack.shoot(admin, "medicos")


def test_build_a_segment_and_see_the_count_change(admin: Page, console_stack: ConsoleStack):
    admin.goto("/campanhas/nova")
    total = admin.locator("#contagem-total")
    expect(total).to_have_attribute("data-count", "20")  # everyone imported, no condition yet

    admin.locator("#cond-0-value").fill("Pediatria")
    expect(total).to_have_attribute("data-count", "8")

    admin.locator("#cond-1-field").select_option("tags")
    expect(admin.locator("#cond-1-op")).to_contain_text("tem alguma de")
    admin.locator("#cond-1-value").fill("disponível")
    expect(total).to_have_attribute("data-count", "8")
    admin.locator("#combinator").select_option("any")
    admin.locator("#cond-1-value").fill("noturno")
    expect(total).to_have_attribute("data-count", "20")  # pediatras OR noturno
    console_stack.shoot(admin, "nova-campanha")

    admin.get_by_label("Nome do segmento (para usar de novo)").fill("Pediatras ou noturnos")
    admin.get_by_role("button", name="Salvar segmento").click()
    expect(admin.get_by_text("Segmento salvo")).to_be_visible()
    admin.get_by_label("Segmento", exact=True).select_option(label="Pediatras ou noturnos")
    expect(admin.locator("#contagem-total")).to_have_attribute("data-count", "20")


def test_build_nested_and_or_groups_with_the_keyboard_and_see_the_count_change(
    admin: Page, console_stack: ConsoleStack
):
    admin.goto("/campanhas/nova")
    total = admin.locator("#contagem-total")
    expect(total).to_have_attribute("data-count", "20")
    admin.locator("#cond-0-value").fill("Pediatria")
    expect(total).to_have_attribute("data-count", "8")

    # Pediatria AND (tagged noturno OR tagged disponível), built from the keyboard
    admin.get_by_role("button", name="Adicionar grupo", exact=True).focus()
    admin.keyboard.press("Enter")
    group = admin.locator("#cond-2-group")
    expect(group).to_be_visible()
    expect(admin.locator("#cond-2-combinator")).to_be_focused()  # the new group's AND/OR
    admin.locator("#cond-2-combinator").select_option("any")
    admin.locator("#cond-2-0-field").select_option("tags")
    expect(admin.locator("#cond-2-0-op")).to_contain_text("tem alguma de")  # the form redrawn
    admin.locator("#cond-2-0-value").fill("noturno")
    expect(total).to_have_attribute("data-count", "0")  # pediatras are never noturno
    group.get_by_role("button", name="Adicionar condição ao grupo 3").press("Enter")
    expect(admin.locator("#cond-2-1-field")).to_be_focused()
    admin.locator("#cond-2-1-field").select_option("tags")
    expect(admin.locator("#cond-2-1-op")).to_contain_text("tem alguma de")
    admin.locator("#cond-2-1-value").fill("disponível")
    expect(total).to_have_attribute("data-count", "8")
    expect(group).to_have_attribute("data-combinator", "any")

    # AND instead of OR inside the group: nobody is both
    admin.locator("#cond-2-combinator").select_option("all")
    expect(total).to_have_attribute("data-count", "0")
    admin.get_by_role("button", name="Remover condição 3.1").click()
    expect(admin.locator("#cond-2-add-condition")).to_be_focused()
    expect(total).to_have_attribute("data-count", "8")  # Pediatria AND (disponível)
    console_stack.shoot(admin, "nova-campanha-grupos")

    admin.get_by_label("Segmento", exact=True).select_option(
        label="Pré-definido: Inativos há 30 dias"
    )
    expect(admin.locator("#cond-1-group")).to_have_attribute("data-combinator", "all")
    expect(admin.locator("#combinator")).to_have_value("any")
    expect(admin.locator("#cond-1-0-op")).to_have_value("missing")
    expect(total).to_have_attribute("data-count", "0")  # everyone was imported today


def test_create_and_start_a_campaign_and_watch_its_funnel_move(
    admin: Page, console_stack: ConsoleStack
):
    admin.goto("/campanhas/nova")
    admin.get_by_label("Nome da campanha").fill(CAMPAIGN)
    admin.locator("#cond-0-value").fill("Pediatria")
    expect(admin.locator("#contagem-total")).to_have_attribute("data-count", "8")
    admin.get_by_label("Mensagem (Modelo)").fill(
        "Olá, {primeiro_nome}! Plantão de {especialidade}?"
    )
    admin.locator("#criar").dblclick()  # a double click makes one campaign
    admin.wait_for_url(re.compile(r"/campanhas/[0-9a-f-]{36}$"))
    expect(admin.get_by_role("heading", name="Prévia para médicos do público")).to_be_visible()
    expect(admin.locator("#previa")).to_contain_text("Plantão de Pediatria?")

    admin.get_by_label("Mensagem (Modelo)").fill("Olá, {nme}!")
    expect(admin.locator("#erro-no-modelo mark")).to_have_text("{nme}")
    admin.get_by_label("Mensagem (Modelo)").fill(
        "Olá, {primeiro_nome}! Plantão de {especialidade}?"
    )
    expect(admin.locator("#previa")).to_contain_text("Plantão de Pediatria?")
    console_stack.shoot(admin, "rascunho")

    admin.get_by_role("link", name="Disparar agora").click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("Disparar")
    admin.get_by_role("button", name="Sim, disparar").click()
    admin.wait_for_url(re.compile(r"/campanhas/[0-9a-f-]{36}$"))

    expect(admin.locator("[data-funnel='sent']")).to_have_text("8", timeout=60_000)
    expect(admin.locator("[data-funnel='read']")).to_have_text("8", timeout=60_000)
    expect(admin.locator("[data-funnel='replied']")).to_have_text("8", timeout=60_000)
    console_stack.shoot(admin, "campanha")

    named = [c for c in console_stack.api.get("/v1/campaigns").json()["items"]
             if c["name"] == CAMPAIGN]  # fmt: skip
    assert len(named) == 1
    trail = console_stack.api.get("/v1/audit").json()["items"]
    starts = [e for e in trail if e["path"] == f"/v1/campaigns/{named[0]['id']}/start"]
    assert [e["acting_user"] for e in starts] == ["ana"]  # the audit trail names the person

    admin.goto("/campanhas")
    expect(admin.locator("#lista-campanhas")).to_contain_text(CAMPAIGN)
    console_stack.shoot(admin, "campanhas")
    admin.goto("/")
    expect(admin.get_by_text("enviadas na última hora")).to_be_visible()
    console_stack.shoot(admin, "painel")


def test_a_viewer_sees_no_start_button_and_their_post_is_refused(
    browser: Browser, console_stack: ConsoleStack
):
    draft = console_stack.api.post(
        "/v1/campaigns",
        json={"name": "Rascunho para leitura", "template": "Olá, {nome}!",
              "filter": {"all": [{"field": "specialty", "op": "eq", "value": "Pediatria"}]}},
    ).json()  # fmt: skip
    viewer = log_in(browser, console_stack, "vera")
    viewer.goto(f"/campanhas/{draft['id']}")
    expect(viewer.get_by_role("heading", name="Rascunho para leitura")).to_be_visible()
    expect(viewer.get_by_role("link", name="Disparar agora")).to_have_count(0)
    expect(viewer.get_by_role("link", name="Nova campanha")).to_have_count(0)

    started = [c for c in console_stack.api.get("/v1/campaigns").json()["items"]
               if c["name"] == CAMPAIGN][0]  # fmt: skip
    viewer.goto(f"/campanhas/{started['id']}")
    expect(viewer.get_by_role("heading", name="Quem mais respondeu")).to_be_visible()
    assert "*" in viewer.locator("table", has_text="Primeiras palavras").inner_text()

    token = viewer.locator("body").get_attribute("data-csrf")
    refused = viewer.request.post(
        f"/campanhas/{draft['id']}/comando/start", form={"_csrf": token}, max_redirects=0
    )
    assert refused.status == 403
    assert console_stack.api.get(f"/v1/campaigns/{draft['id']}").json()["state"] == "draft"
    viewer.context.close()


def test_a_form_posted_without_its_csrf_token_is_refused(admin: Page, console_stack: ConsoleStack):
    refused = admin.request.post(
        "/campanhas/nova",
        form={"name": "Sem token", "template": "Olá", "acao": "criar"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "CSRF" in refused.text()
    names = [c["name"] for c in console_stack.api.get("/v1/campaigns").json()["items"]]
    assert "Sem token" not in names


MAIN_PAGES = ["/", "/campanhas", "/campanhas/nova", "/medicos", "/medicos/importar", "/numeros",
              "/follow-ups/padrao/editar",
              "/falhas", "/follow-ups", "/conversas", "/usuarios"]  # fmt: skip


def test_every_control_is_labelled_reachable_by_keyboard_with_visible_focus(
    admin: Page, console_stack: ConsoleStack
):
    for path in MAIN_PAGES:
        assert admin.goto(path).status == 200, path
        if path in ("/numeros", "/falhas", "/usuarios"):
            console_stack.shoot(admin, path.strip("/"))
        unlabelled = admin.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden')
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name || el.id)"""
        )
        assert unlabelled == [], f"{path}: controls without a label: {unlabelled}"

    admin.goto("/campanhas")
    seen = set()
    for _ in range(12):
        admin.keyboard.press("Tab")
        focus = admin.evaluate(
            """() => { const el = document.activeElement; const s = getComputedStyle(el);
                return {text: (el.textContent || el.name || '').trim(), tag: el.tagName,
                        outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
        )
        assert focus["tag"] != "BODY", "Tab left the page's controls"
        assert focus["outline"] != "none" and focus["width"] >= 2, f"no visible focus: {focus}"
        seen.add(focus["text"])
    assert {"Campanhas", "Médicos", "Painel"} <= seen


def test_base_palette_has_enough_contrast(admin: Page):
    admin.goto("/campanhas")
    ratios = admin.evaluate(
        """() => {
          const rgb = c => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
          const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255;
              return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
              return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
              return (x + 0.05) / (y + 0.05); };
          const bg = getComputedStyle(document.body).backgroundColor;
          const style = sel => getComputedStyle(document.querySelector(sel));
          const pick = sel => style(sel).color;
          return {text: ratio(pick('body'), bg), link: ratio(pick('main td a'), bg),
                  footer: ratio(pick('footer p'), bg),
                  button: ratio(pick('a.button'), style('a.button').backgroundColor)};
        }"""
    )
    assert all(value >= 4.5 for value in ratios.values()), ratios


def test_take_over_a_conversation_and_hand_it_back(admin: Page, console_stack: ConsoleStack):
    admin.goto("/conversas?etapa=primeiro_contato")
    rows = admin.locator("#lista-conversas tbody tr")
    expect(rows.first).to_be_visible(timeout=30_000)
    rows.first.get_by_role("link", name="Abrir").click()
    expect(admin.locator("#conduzida-por")).to_have_text("Automação")

    admin.get_by_label("Motivo").first.fill("médico pediu para falar com uma pessoa")
    admin.get_by_role("button", name="Assumir conversa").click()
    expect(admin.locator("#conduzida-por")).to_have_text("Pessoa (ana)")
    console_stack.shoot(admin, "conversa")

    admin.get_by_role("button", name="Devolver à automação").click()
    expect(admin.locator("#conduzida-por")).to_have_text("Automação")


def test_find_a_doctor_by_name_see_their_messages_and_opt_them_out(
    admin: Page, console_stack: ConsoleStack
):
    admin.goto("/medicos")
    admin.get_by_label("Buscar por nome ou telefone").fill("pediatra 3")
    admin.get_by_role("button", name="Buscar").click()
    rows = admin.locator("#lista-medicos tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("*")  # the phone, masked
    rows.first.get_by_role("link", name="Dra. Pediatra 3").click()

    expect(admin.get_by_role("heading", name="Dra. Pediatra 3", level=1)).to_be_visible()
    expect(admin.locator("#telefone")).to_contain_text("*")
    timeline = admin.locator("#linha-do-tempo")
    sent = timeline.locator("tr[data-direction='out'][data-kind='campaign']")
    expect(sent).to_have_count(1)
    expect(sent.locator("[data-sent-text]")).to_contain_text("Plantão de Pediatria?")
    moment = re.compile(r"^\d\d/\d\d/\d{4} \d\d:\d\d$")  # the simulator delivers and reads
    expect(sent.locator("[data-delivered-at]")).to_have_text(moment)
    expect(sent.locator("[data-read-at]")).to_have_text(moment)
    expect(timeline.locator("tr[data-direction='in']").first).to_be_visible()
    expect(timeline.get_by_role("link", name=CAMPAIGN).first).to_be_visible()
    expect(admin.locator("#consentimento")).to_have_text("Aceita mensagens")
    console_stack.shoot(admin, "medico")

    admin.get_by_label("Motivo").fill("pediu para não receber mais")
    admin.get_by_role("button", name="Descadastrar").click()
    expect(admin.locator("#consentimento")).to_contain_text("Descadastrado")

    admin.goto("/campanhas/nova")
    admin.locator("#cond-0-value").fill("Pediatria")
    expect(admin.locator("#contagem-total")).to_have_attribute("data-count", "7")
    exclusions = admin.locator("#exclusoes")
    expect(exclusions).to_have_attribute("data-matched", "8")
    expect(exclusions).to_contain_text("8 correspondem ao filtro → −1 descadastrados = 7")


def test_the_panel_leads_with_alerts_each_linking_where_to_act(
    admin: Page, console_stack: ConsoleStack
):
    senders = [s["sender_id"] for s in console_stack.dispatcher.get("/v1/senders").json()]
    admin.goto("/numeros")
    for sender in senders:
        row = admin.locator(f"tr[data-sender='{sender}']")
        expect(row.locator("[data-quality]")).to_have_text("Não se aplica (Evolution)")
        row.get_by_role("button", name=f"Pausar {sender}").click()
        expect(admin.locator(f"tr[data-sender='{sender}']")).to_contain_text("Pausado")
    console_stack.shoot(admin, "numeros")

    draft = console_stack.api.post(
        "/v1/campaigns",
        json={"name": "Clínicos — noturno", "template": "Olá, {nome}! Plantão noturno?",
              "filter": {"all": [{"field": "tags", "op": "any", "value": ["noturno"]}]}},
    ).json()  # fmt: skip
    assert console_stack.api.post(f"/v1/campaigns/{draft['id']}/start").status_code == 200
    assert console_stack.api.post(f"/v1/campaigns/{draft['id']}/pause").status_code == 200

    admin.goto("/")
    alerts = admin.locator("#alertas")
    expect(alerts.locator("[data-alert='sender_paused']")).to_have_count(len(senders))
    expect(
        alerts.get_by_role("link", name="Campanha “Clínicos — noturno” está pausada")
    ).to_be_visible()
    console_stack.shoot(admin, "painel-alertas")
    alerts.get_by_role("link", name="Campanha “Clínicos — noturno” está pausada").click()
    admin.wait_for_url(f"{console_stack.url}/campanhas/{draft['id']}")

    try:
        assert console_stack.api.post(f"/v1/campaigns/{draft['id']}/resume").status_code == 200
        admin.goto("/")
        expect(admin.locator("#alertas [data-alert='campaign_paused']")).to_have_count(0)
        expect(admin.locator("#mais-antiga")).to_have_attribute("data-seconds", re.compile(r"\d+"))

        admin.goto("/numeros")
        for sender in senders:
            admin.locator(f"tr[data-sender='{sender}']").get_by_role(
                "button", name=f"Retomar {sender}"
            ).click()
            expect(admin.locator(f"tr[data-sender='{sender}']")).to_contain_text("Ativo")
    finally:  # the numbers back in service whatever happened, for the tests that follow
        for sender in senders:
            console_stack.dispatcher.patch(f"/v1/senders/{sender}", json={"status": "active"})
    admin.goto("/")
    expect(admin.locator("#alertas [data-alert='sender_paused']")).to_have_count(0)


def test_edit_the_follow_up_rules_and_see_a_refusal_name_its_field(
    admin: Page, console_stack: ConsoleStack
):
    admin.goto("/follow-ups")
    admin.get_by_role("link", name="Editar regras “padrao”").click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("Editar regras de follow-up")
    oferta = admin.locator("#etapa-pos_oferta")
    oferta.get_by_label("Reenviar depois de").fill("amanhã")
    admin.get_by_role("button", name="Salvar nova versão").click()
    expect(admin.locator("#problemas [data-field='pos_oferta-delay']")).to_contain_text(
        "Pós-oferta — Reenviar depois de: escreva um prazo como 3d"
    )
    expect(oferta.get_by_label("Reenviar depois de")).to_have_attribute("aria-invalid", "true")

    oferta.get_by_label("Reenviar depois de").fill("3d")
    first = oferta.get_by_label("Textos do 1º follow-up")
    first.fill(first.input_value() + "\n---\nDoutor(a), a vaga de plantão ainda está aberta!")
    console_stack.shoot(admin, "follow-ups-edicao")
    admin.get_by_role("button", name="Salvar nova versão").click()
    expect(admin.locator("#regras-salvas")).to_be_visible()
    rules = admin.locator("section", has=admin.get_by_role("heading", name=re.compile("padrao")))
    expect(rules.get_by_role("heading")).to_contain_text("versão 1")  # the built-in is 0
    expect(rules).to_contain_text("a vaga de plantão ainda está aberta!")
    expect(rules.locator("tr", has_text="Pós-oferta")).to_contain_text("3d")
