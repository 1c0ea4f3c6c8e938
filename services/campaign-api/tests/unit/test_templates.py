"""Templates: known placeholders only, safe rendering, hostile input never crashes or leaks."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disparo_campaign_api.campaigns.templates import (
    MAX_BODY_LENGTH,
    TemplateError,
    load_template,
    parse_template,
)

DOCTOR = {
    "name": "Ana Souza",
    "specialty": "Anestesiologia",
    "region": "ABC",
    "attributes": {"hospital": "São Luiz", "plantoes": 3, "disponivel": True, "nested": {"a": 1}},
}


def render(source: str, contact=DOCTOR, **kwargs) -> str:
    return parse_template(source).render(contact, **kwargs)


def test_spec_placeholders_are_filled():
    body = render("Olá {primeiro_nome} ({nome}), vaga de {especialidade} em {regiao}.")
    assert body == "Olá Ana (Ana Souza), vaga de Anestesiologia em ABC."


def test_contact_attributes_are_placeholders():
    assert (
        render("{attr.hospital}: {attr.plantoes} plantões, {attr.disponivel}")
        == "São Luiz: 3 plantões, sim"
    )


def test_missing_values_use_fallbacks():
    contact = {"name": None, "specialty": "", "region": None, "attributes": {}}
    assert render("Olá {nome}, {primeiro_nome}!", contact) == "Olá Dr(a)., Dr(a).!"
    assert render("[{especialidade}][{attr.hospital}]", contact) == "[][]"
    assert render("[{regiao}]", contact, fallbacks={"regiao": "sua região"}) == "[sua região]"


def test_non_scalar_attributes_are_never_rendered():
    assert render("x{attr.nested}x") == "xx"


def test_braces_escape():
    assert render("{{nome}} = {nome}") == "{nome} = Ana Souza"
    assert render("{{{nome}}}") == "{Ana Souza}"
    assert render("preço: {{ R$ 100 }}") == "preço: { R$ 100 }"


@pytest.mark.parametrize(
    ("source", "position", "reason"),
    [
        ("Olá {}", 5, "empty placeholder"),
        ("Olá {nome", 5, "never closed"),
        ("Olá nome}", 9, "closes nothing"),
        ("Olá {nome}}", 11, "closes nothing"),
        ("Olá {nome {regiao}}", 11, "inside the placeholder opened at position 5"),
        ("preço: R$ {  100 }", 11, "unknown placeholder {  100 }"),
        ("Olá\x00 {nome}", 4, "control character U+0000"),
        ("Olá {nome}\x1b[31m", 11, "control character U+001B"),
        ("Olá {no\x07me}", 8, "control character U+0007"),
        ("Olá\u0085", 4, "control character U+0085"),
    ],
)
def test_syntax_faults_are_refused_naming_the_position(source, position, reason):
    with pytest.raises(TemplateError) as info:
        parse_template(source)
    assert info.value.reason.startswith(f"position {position}: ")
    assert reason in info.value.reason


def test_line_breaks_and_tabs_are_text():
    assert render("Olá {primeiro_nome},\r\n\tvaga!") == "Olá Ana,\r\n\tvaga!"


def test_a_stored_template_from_before_the_strict_syntax_still_renders_literally():
    assert load_template("preço: R$ {  100 } } {").render(DOCTOR) == "preço: R$ {  100 } } {"
    assert load_template("{nome}}").render(DOCTOR) == "Ana Souza}"


@pytest.mark.parametrize(
    "hostile",
    [
        "{0.__class__}",
        "{nome.__init__}",
        "{nome!r}",
        "{nome:>99999}",
        "{nome[0]}",
        "{0}",
        "{attr.__dict__.x}",
        "{attr.}",
        "{__import__}",
    ],
)
def test_hostile_placeholders_are_refused_and_render_literally(hostile):
    with pytest.raises(TemplateError) as info:
        parse_template(f"Olá {hostile}")
    assert hostile in info.value.reason
    assert "{nome}" in info.value.reason  # lists the allowed ones
    assert load_template(f"Olá {hostile}").render(DOCTOR) == f"Olá {hostile}"


def test_unknown_placeholder_is_named():
    with pytest.raises(TemplateError, match=r"unknown placeholder \{cidade\}"):
        parse_template("Olá {nome} de {cidade}")


@pytest.mark.parametrize("source", ["", "   ", "x" * 4097])
def test_empty_or_huge_templates_are_refused(source):
    with pytest.raises(TemplateError):
        parse_template(source)


def test_huge_values_and_bodies_are_bounded():
    contact = {**DOCTOR, "name": "A" * 10_000}
    body = render("{nome}" + "{nome}" * 100)
    assert len(body) <= MAX_BODY_LENGTH
    assert len(render("{nome}", contact)) == 200
    # a megabyte of braces renders (literally) in linear time, without recursion
    assert load_template("{" * 500_000 + "}" * 500_000).render(DOCTOR)


def test_placeholders_are_listed_once():
    assert parse_template("{nome} {nome} {attr.x}").placeholders == ("nome", "attr.x")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_renders_without_error(source):
    body = load_template(source).render(DOCTOR)
    assert isinstance(body, str)
    assert "__class__" not in body or "__class__" in source


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["Oi ", "{nome}", "{{", "}}", "😀", "{attr.x}", "\n", "é"])))
def test_an_accepted_template_reads_the_same_when_loaded_back(pieces):
    source = "x" + "".join(pieces)
    assert load_template(source).parts == parse_template(source).parts
