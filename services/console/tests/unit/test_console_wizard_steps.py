"""The wizard's follow-up plan and Cloud template steps as pure functions, campaign-api's
refusals placed beside their fields, and a campaign's follow-up cadence as its page shows it."""

from disparo_console.cloud_template_form import (
    approved_templates,
    needs_cloud_template,
    read_cloud_template_form,
    render_body,
)
from disparo_console.followup_plan_form import (
    plan_preview,
    plan_summary,
    read_plan_form,
    render_for,
)
from disparo_console.followup_report import cadence_rows
from disparo_console.wizard_errors import place_error

ROWS = [
    {"waba_id": "a", "name": "aviso", "language": "pt_BR", "status": "APPROVED",
     "body": "Olá, {{1}}! Vagas em {{2}}.", "parameters": ["1", "2"], "category": "MARKETING"},
    {"waba_id": "b", "name": "aviso", "language": "pt_BR", "status": "PENDING",
     "body": "", "parameters": [], "category": "MARKETING"},
    {"waba_id": "a", "name": "nomeado", "language": "pt_BR", "status": "APPROVED",
     "body": "Oi {{nome}}", "parameters": ["nome"], "category": "UTILITY"},
    {"waba_id": "b", "name": "nomeado", "language": "pt_BR", "status": "APPROVED",
     "body": "Oi {{nome}} {{extra}}", "parameters": ["nome", "extra"], "category": "UTILITY"},
]  # fmt: skip


def test_an_own_plan_with_variants_becomes_campaign_api_followups():
    form = read_plan_form({"plano": "proprio", "plano-delay": " 36h ", "plano-max": "2",
                           "plano-texto-0": "Oi {nome}!\r\n---\r\nOlá, {nome}!",
                           "plano-texto-1": "E aí?"})  # fmt: skip
    assert form.followups() == {
        "delay": "36h",
        "max": 2,
        "texts": [["Oi {nome}!", "Olá, {nome}!"], ["E aí?"]],
    }
    assert read_plan_form({"plano": "proprio", "plano-max": "1"}).followups() == {
        "delay": "3d",
        "max": 1,
    }  # no text written: campaign-api's defaults
    assert read_plan_form({"plano": "proprio", "plano-max": "dois"}).followups()["max"] == "dois"
    assert read_plan_form({"plano": "qualquer"}).followups() is None


def test_the_preview_says_when_each_follow_up_goes_and_writes_it_for_the_doctor():
    form = read_plan_form({"plano": "proprio", "plano-delay": "2d", "plano-max": "2",
                           "plano-texto-0": "Oi {primeiro_nome}! {{ok}}",
                           "plano-texto-1": "{nome}?"})  # fmt: skip
    steps = plan_preview(form, None, "Ana Souza")
    assert [(s.number, s.after_seconds, s.texts) for s in steps] == [
        (1, 2 * 86400, ("Oi Ana! {ok}",)),
        (2, 4 * 86400, ("Ana Souza?",)),
    ]
    assert render_for("Oi {primeiro_nome}", None) == "Oi Dr(a)."
    rule_sets = [{"name": "noite", "rules": {"primeiro_contato": {
        "delay": "1d", "max_followups": 1, "texts": [["Oi {nome}"]]}}}]  # fmt: skip
    named = plan_preview(read_plan_form({"plano": "regras", "plano-regras": "noite"}), rule_sets,
                         "Rui")  # fmt: skip
    assert [(s.after_seconds, s.texts) for s in named] == [(86400, ("Oi Rui",))]
    assert plan_preview(read_plan_form({"plano": "nenhum"}), rule_sets, "Rui") == []


def test_a_stored_plan_reads_back_for_the_summary():
    assert plan_summary(None) == {"mode": "padrao"}
    assert plan_summary("none") == {"mode": "nenhum"}
    assert plan_summary({"rule_set": "noite"}) == {"mode": "regras", "rule_set": "noite"}
    own = plan_summary({"delay": "1d12h", "max": 1, "texts": [["Oi"]]})
    assert own == {"mode": "proprio", "delay_seconds": 129600, "max": 1, "texts": [["Oi"]]}


def test_only_templates_approved_with_one_shape_can_be_chosen():
    assert [t.key for t in approved_templates(ROWS)] == ["aviso|pt_BR"]
    assert needs_cloud_template([{"provider": "evolution"}, {"provider": "cloud"}])
    assert not needs_cloud_template([{"provider": "cloud", "status": "disabled"}])


def test_parameters_map_to_doctor_fields_and_render_for_a_sample():
    templates = approved_templates(ROWS)
    form = read_cloud_template_form(
        {"modelo_cloud": "aviso|pt_BR", "param-0-field": "attribute", "param-0-value": "crm",
         "param-0-fallback": "doutor(a)", "param-1-field": "region"}, templates
    )  # fmt: skip
    assert form.cloud_template() == {
        "name": "aviso",
        "language": "pt_BR",
        "parameters": [{"field": "attributes.crm", "fallback": "doutor(a)"}, {"field": "region"}],
    }
    assert render_body(form, {"region": "Zona Sul"}) == ("Olá, doutor(a)! Vagas em Zona Sul.", True)
    assert render_body(form, {}) == ("Olá, doutor(a)! Vagas em {{2}}.", False)  # no region
    gone = read_cloud_template_form({"modelo_cloud": "antigo|pt_BR"}, templates)
    assert gone.cloud_template() == {"name": "antigo", "language": "pt_BR", "parameters": []}
    assert read_cloud_template_form({}, templates).cloud_template() is None


def test_refusals_land_beside_their_field_in_the_catalogues_words():
    repeated = place_error("followups.texts[2][0]", "repeats a text of follow-up 1: differ")
    assert (repeated.form_field, repeated.key) == (
        "plano-texto-2",
        "wizard.error.followups.repeated",
    )
    syntax = place_error("followups.texts[0][1]", "position 4: a { that is never closed")
    assert (syntax.key, syntax.values) == ("wizard.error.followups.syntax", {"position": "4"})
    count = place_error("cloud_template.parameters", "aviso (pt_BR) takes 2 body parameters")
    assert (count.form_field, count.values) == ("modelo_cloud", {"expected": "2"})
    parameter = place_error("body.cloud_template.parameters.1.field", "unknown contact field")
    assert (parameter.form_field, parameter.values) == ("param-1", {"n": "2"})
    assert place_error("", "odd").form_field == ""
    assert place_error("filter.all.0.op", "bad op").form_field == "construtor"


def test_the_cadence_rows_put_the_campaign_message_first_with_what_followed_it():
    report = {
        "funnel": {"sent": 10},
        "followup": {
            "attempts": [
                {"attempt": 1, "requested": 3, "sent": 3, "cancelled": 0, "failed": 0},
                {"attempt": 2, "requested": 2, "sent": 1, "cancelled": 1, "failed": 0},
            ],
            "answered_after": [{"attempt": 0, "doctors": 2}, {"attempt": 2, "doctors": 1}],
            "opted_out_after": [{"attempt": 1, "doctors": 1}],
        },
    }
    rows = [(r.attempt, r.sent, r.replied_after, r.opted_out_after) for r in cadence_rows(report)]
    assert rows == [(0, 6, 2, 0), (1, 3, 0, 1), (2, 1, 1, 0)]
    assert cadence_rows({"followup": {"attempts": []}}) == []
    assert cadence_rows(None) == []
