"""A campaign's Cloud template mapping: its shape, and its fit with the registry's rows."""

import pytest
from pydantic import ValidationError

from disparo_campaign_api.campaigns.cloud_templates import (
    CloudTemplateIn,
    MappingError,
    check_against_registry,
)


def registry_row(status: str = "APPROVED", parameters=("1", "2"), waba: str = "w1") -> dict:
    return {
        "waba_id": waba,
        "name": "plantao_aviso",
        "language": "pt_BR",
        "status": status,
        "parameters": list(parameters),
    }


def mapping(*parameters: dict) -> CloudTemplateIn:
    return CloudTemplateIn(name="plantao_aviso", language="pt_BR", parameters=list(parameters))


FIRST_NAME = {"field": "first_name"}
SPECIALTY = {"field": "specialty"}


def test_an_approved_template_with_as_many_parameters_as_mapped_fits():
    check_against_registry(mapping(FIRST_NAME, SPECIALTY), [registry_row()])


def test_a_template_missing_from_the_registry_is_blamed_on_its_name():
    with pytest.raises(MappingError) as error:
        check_against_registry(mapping(FIRST_NAME, SPECIALTY), [])
    assert error.value.field == "cloud_template.name"
    assert "no template plantao_aviso (pt_BR)" in error.value.reason


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "PAUSED", "DISABLED"])
def test_a_template_not_approved_is_refused_with_its_status(status):
    with pytest.raises(MappingError) as error:
        check_against_registry(mapping(FIRST_NAME, SPECIALTY), [registry_row(status)])
    assert error.value.field == "cloud_template.name"
    assert f"is {status}, not APPROVED" in error.value.reason


def test_one_account_approving_it_is_enough():
    rows = [registry_row("PENDING", waba="w1"), registry_row("APPROVED", waba="w2")]
    check_against_registry(mapping(FIRST_NAME, SPECIALTY), rows)


def test_a_wrong_parameter_count_names_what_the_template_takes():
    with pytest.raises(MappingError) as error:
        check_against_registry(mapping(FIRST_NAME), [registry_row()])
    assert error.value.field == "cloud_template.parameters"
    assert (
        error.value.reason
        == "plantao_aviso (pt_BR) takes 2 body parameters ({{1}}, {{2}}), 1 mapped"
    )


def test_named_parameters_must_be_mapped_by_name_in_order():
    row = registry_row(parameters=("nome", "especialidade"))
    good = mapping({"name": "nome", **FIRST_NAME}, {"name": "especialidade", **SPECIALTY})
    check_against_registry(good, [row])
    swapped = mapping({"name": "especialidade", **FIRST_NAME}, {"name": "nome", **SPECIALTY})
    with pytest.raises(MappingError) as error:
        check_against_registry(swapped, [row])
    assert error.value.field == "cloud_template.parameters.0.name"


def test_a_positional_template_takes_no_parameter_names():
    with pytest.raises(MappingError) as error:
        check_against_registry(mapping(FIRST_NAME, {"name": "x", **SPECIALTY}), [registry_row()])
    assert error.value.field == "cloud_template.parameters.1.name"


def test_accounts_disagreeing_on_the_parameters_are_refused():
    rows = [registry_row(parameters=("1",), waba="w1"), registry_row(waba="w2")]
    with pytest.raises(MappingError, match="different parameters"):
        check_against_registry(mapping(FIRST_NAME, SPECIALTY), rows)


@pytest.mark.parametrize(
    "parameter",
    [
        {"field": "phone"},  # not a field a template may carry
        {"field": "custom.specialty"},
        {"field": "attributes."},
        {"field": "attributes.bad key"},
        {"field": "first_name", "text": "Ana"},  # both
        {},  # neither
        {"text": "Ana", "fallback": "x"},  # a fallback for a literal
        {"field": "first_name", "extra": 1},
    ],
)
def test_a_parameter_must_be_one_known_contact_field_or_one_text(parameter):
    with pytest.raises(ValidationError):
        mapping(parameter)


def test_an_unknown_field_is_reported_on_the_field_itself():
    with pytest.raises(ValidationError) as error:
        mapping({"field": "phone"})
    (problem,) = error.value.errors()
    assert problem["loc"] == ("parameters", 0, "field")
    assert "unknown contact field 'phone'" in problem["msg"]


@pytest.mark.parametrize(
    "field", ["name", "first_name", "specialty", "region", "attributes.hospital"]
)
def test_known_contact_fields_are_accepted(field):
    assert mapping({"field": field}).parameters[0].field == field


def test_a_template_the_api_accepts_fits_the_requested_event() -> None:
    from annotated_types import MaxLen

    from disparo_campaign_api.campaigns.cloud_templates import TemplateParameterIn
    from disparo_campaign_api.campaigns.templates import MAX_VALUE_LENGTH
    from disparo_shared.events import MessageTemplate, TemplateParameter

    def cap(model, field: str) -> int:
        (found,) = [
            m.max_length for m in model.model_fields[field].metadata if isinstance(m, MaxLen)
        ]
        return found

    for field in ("name", "language", "parameters"):
        assert cap(CloudTemplateIn, field) <= cap(MessageTemplate, field), field
    assert cap(TemplateParameterIn, "name") <= cap(TemplateParameter, "name")
    # a filled value is cut at MAX_VALUE_LENGTH; a literal or fallback is at most that long
    assert MAX_VALUE_LENGTH <= cap(TemplateParameter, "text")
    assert cap(TemplateParameterIn, "text") <= cap(TemplateParameter, "text")
    assert cap(TemplateParameterIn, "fallback") <= cap(TemplateParameter, "text")
