"""A campaign's WhatsApp Cloud API template: the mapping, its checks, and its SQL for fan-out.

On the Cloud API a doctor outside the 24 h window can only be written to with an approved
template. A campaign names one beside its free text::

    "cloud_template": {
        "name": "plantao_aviso", "language": "pt_BR",
        "parameters": [{"field": "first_name"}, {"field": "specialty", "fallback": "clínica"}]
    }

Each body parameter, in order (``{{1}}``, ``{{2}}`` …; with ``name`` for a template of named
parameters), is a contact field — ``name``, ``first_name`` (its first word), ``specialty``,
``region`` or ``attributes.<key>`` — or a literal ``{"text": …}``. The dispatcher sends the free
text to a doctor whose window is open (and on Evolution numbers, which have no templates) and
the template to everyone else.

Checks: the shape here (pydantic, 422 naming ``cloud_template.parameters.<i>.field``), and at
create/edit time ``check_against_registry`` over what the dispatcher's registry lists for that
name and language: it exists, one account has it APPROVED, and the parameters mapped are the
ones its body takes (count, or names for a named template).

A doctor without a value for a mapped field gets the parameter's ``fallback`` when it declares
one (``first_name``/``name`` fall back to the service's ``template_fallbacks``, "Dr(a)." by
default, like ``{nome}`` in the text); with no fallback the doctor's message goes **without the
template**: free text where it may go (Evolution, an open window), held by the dispatcher as
``needs_template`` on a Cloud number otherwise — visible in the campaign's report, never dead,
and counted on the campaign as ``without_template``. Meta refuses an empty parameter, so
sending one is never the answer.

``template_sql`` compiles the mapping into two SQL expressions over ``contacts c`` (values as
``$n`` parameters only, the same value rules as the text's ``templates.render_sql``), so a fan-out
fills a million templates inside Postgres.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from disparo_campaign_api.campaigns.templates import (
    ATTRIBUTE_PREFIX,
    MAX_VALUE_LENGTH,
    placeholder_value_sql,
)
from disparo_shared.template_registry import MappingError as RegistryMappingError
from disparo_shared.template_registry import check_mapping
from disparo_shared.text_input import SafeLine

ATTRIBUTES_FIELD_PREFIX = "attributes."
# Contact field → the text template's placeholder that reads it (templates.py).
FIELD_PLACEHOLDERS: dict[str, str] = {
    "name": "nome",
    "first_name": "primeiro_nome",
    "specialty": "especialidade",
    "region": "regiao",
}
KNOWN_FIELDS = "name, first_name, specialty, region or attributes.<key>"
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MAX_PARAMETERS = 100


def placeholder_of(field: str) -> str | None:
    """The text placeholder a contact field reads through, or None for an unknown field."""
    if field in FIELD_PLACEHOLDERS:
        return FIELD_PLACEHOLDERS[field]
    if field.startswith(ATTRIBUTES_FIELD_PREFIX):
        key = field[len(ATTRIBUTES_FIELD_PREFIX) :]
        if _ATTRIBUTE_KEY.match(key):
            return ATTRIBUTE_PREFIX + key
    return None


class TemplateParameterIn(BaseModel):
    """One body parameter: a contact ``field`` (with an optional ``fallback``) or a ``text``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=r"^[a-z0-9_]+$",
        description="The parameter's name in a template of named parameters ({{nome}});"
        " absent for positional ones ({{1}}, in order).",
    )
    field: str | None = Field(
        None,
        max_length=100,
        description="Contact field: name, first_name, specialty, region or attributes.<key>.",
    )
    text: SafeLine | None = Field(
        None, min_length=1, max_length=MAX_VALUE_LENGTH, description="A literal value."
    )
    fallback: SafeLine | None = Field(
        None,
        min_length=1,
        max_length=MAX_VALUE_LENGTH,
        description="Value for a doctor without the field; without one, that doctor's message"
        " goes without the template (counted as without_template).",
    )

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str | None) -> str | None:
        if value is not None and placeholder_of(value) is None:
            raise ValueError(f"unknown contact field {value!r}; one of {KNOWN_FIELDS}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> "TemplateParameterIn":
        if (self.field is None) == (self.text is None):
            raise ValueError("give exactly one of field and text")
        if self.fallback is not None and self.field is None:
            raise ValueError("fallback goes with field, not with text")
        return self


class CloudTemplateIn(BaseModel):
    """The approved Cloud API template a campaign's cold doctors get, and its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$", description="e.g. plantao_aviso"
    )
    language: str = Field(
        min_length=2,
        max_length=16,
        pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$",
        description="Meta's locale, e.g. pt_BR.",
    )
    parameters: list[TemplateParameterIn] = Field(
        default_factory=list, max_length=MAX_PARAMETERS, description="Body parameters, in order."
    )


# ---------------------------------------------------------------------------------------------
# The registry check


@dataclass(frozen=True)
class MappingError(ValueError):
    """The mapping does not fit the registry; ``field`` is the request path to blame."""

    field: str
    reason: str


def check_against_registry(template: CloudTemplateIn, listed: list[Mapping[str, Any]]) -> None:
    """Raise ``MappingError`` unless ``listed`` (the dispatcher's registry rows for this name and
    language, one per account) has it APPROVED with exactly the parameters mapped
    (``disparo_shared.template_registry.check_mapping``), naming ``cloud_template.…``."""
    try:
        check_mapping(
            template.name, template.language, [p.name for p in template.parameters], listed
        )
    except RegistryMappingError as exc:
        raise MappingError(".".join(["cloud_template", *map(str, exc.where)]), exc.reason) from None


# ---------------------------------------------------------------------------------------------
# Fan-out SQL


@dataclass(frozen=True)
class TemplateSql:
    """``values``: a ``text[]`` of the filled parameters for ``contacts c`` (an element is NULL
    when the doctor lacks a field without fallback); ``template``: the event's ``template``
    object built from those values, referenced as ``template_values``."""

    values: str
    template: str


NO_TEMPLATE = TemplateSql(values="NULL::text[]", template="NULL::json")


def template_sql(
    stored: Mapping[str, Any] | None,
    add_param: Callable[[Any, str], str],
    fallbacks: Mapping[str, str],
    *,
    with_object: bool = True,
) -> TemplateSql:
    """The SQL of a stored ``cloud_template`` (``NO_TEMPLATE`` when the campaign has none);
    ``with_object=False`` compiles the values only (a preview), registering no other parameter.

    Example: ``{"name": "plantao_aviso", "language": "pt_BR", "parameters": [{"field":
    "first_name"}, {"text": "pediatria"}]}`` gives values ``ARRAY[coalesce(nullif(<first word of
    c.name, cut at 200>, ''), $1::text), $2::text]`` (``$1`` = "Dr(a).") and the template
    ``json_build_object('name', $3::text, 'language', $4::text, 'parameters',
    json_build_array(json_build_object('text', template_values[1]), …))``.
    """
    if not stored:
        return NO_TEMPLATE
    template = CloudTemplateIn.model_validate(stored)
    values: list[str] = []
    for parameter in template.parameters:
        if parameter.text is not None:
            values.append(add_param(parameter.text, "text"))
        else:
            placeholder = placeholder_of(parameter.field or "")
            assert placeholder is not None  # checked on the way in
            fallback = parameter.fallback or fallbacks.get(placeholder)
            value = placeholder_value_sql(placeholder, add_param)
            values.append(f"coalesce({value}, {add_param(fallback, 'text')})")
    values_sql = f"ARRAY[{', '.join(values)}]::text[]"
    if not with_object:
        return TemplateSql(values=values_sql, template="NULL::json")
    built: list[str] = []
    for index, parameter in enumerate(template.parameters, start=1):
        name = f"'name', {add_param(parameter.name, 'text')}, " if parameter.name else ""
        built.append(f"json_build_object({name}'text', template_values[{index}])")
    return TemplateSql(
        values=values_sql,
        template=(
            f"json_build_object('name', {add_param(template.name, 'text')},"
            f" 'language', {add_param(template.language, 'text')},"
            f" 'parameters', json_build_array({', '.join(built)}))"
        ),
    )
