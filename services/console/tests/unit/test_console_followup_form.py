"""The follow-up rules form: rules to fields and back, and followup's problems to fields."""

from disparo_console.followup_form import field_of_problem, form_from_rules, rules_from_form

RULES = {
    "primeiro_contato": {"delay": "3d", "max_followups": 2,
                         "texts": [["Oi, {nome}!", "Olá, {nome}!"], ["Ainda tem interesse?"]]},
    "pos_oferta": {"delay": "2d", "max_followups": 1, "texts": [["E a oferta?"]]},
}  # fmt: skip


def test_a_rule_set_survives_the_form_both_ways():
    values = form_from_rules(RULES)
    assert values["primeiro_contato-texts-0"] == "Oi, {nome}!\n---\nOlá, {nome}!"
    assert values["pos_interesse-delay"] == "" and values["pos_interesse-max"] == "0"
    assert values["primeiro_contato-texts-2"] == ""  # a spare box for one more follow-up
    assert rules_from_form(values) == RULES


def test_multi_line_variants_and_windows_line_ends_are_kept_apart_by_the_separator_line():
    form = {
        "pos_interesse-delay": " 1d ", "pos_interesse-max": "1",
        "pos_interesse-texts-0": "Oi!\r\n\r\nTudo bem?\r\n  ---  \r\nOlá!\r\n",
        "pos_interesse-texts-1": "",
    }  # fmt: skip
    assert rules_from_form(form) == {
        "pos_interesse": {
            "delay": "1d",
            "max_followups": 1,
            "texts": [["Oi!\n\nTudo bem?", "Olá!"]],
        }
    }


def test_a_maximum_that_is_not_a_number_goes_on_as_typed_for_followup_to_name_it():
    form = {"pos_oferta-delay": "2d", "pos_oferta-max": "dois", "pos_oferta-texts-0": "E aí?"}
    assert rules_from_form(form)["pos_oferta"]["max_followups"] == "dois"


def test_followups_field_paths_point_at_the_form_fields():
    assert field_of_problem("rules.pos_oferta.delay") == "pos_oferta-delay"
    assert field_of_problem("rules.pos_oferta.max_followups") == "pos_oferta-max"
    assert field_of_problem("rules.primeiro_contato.texts[1][0]") == "primeiro_contato-texts-1"
    assert field_of_problem("rules.primeiro_contato.texts") == "primeiro_contato-texts-0"
    assert field_of_problem("expected_version") is None


def test_a_stages_cloud_template_is_kept_though_the_form_does_not_edit_it():
    template = {"name": "lembrete_plantao", "language": "pt_BR", "parameters": []}
    current = {"pos_oferta": {**RULES["pos_oferta"], "template": template}}
    form = {"pos_oferta-delay": "3d", "pos_oferta-max": "1", "pos_oferta-texts-0": "E aí?"}
    assert rules_from_form(form, current)["pos_oferta"]["template"] == template
    assert "template" not in rules_from_form({**form, "pos_oferta-delay": ""}, current).get(
        "pos_oferta", {}
    )
