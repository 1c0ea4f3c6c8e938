"""A follow-up stage's WhatsApp Cloud API template, for doctors whose 24 h window is closed.

A follow-up goes to a doctor who did not answer, so on a Cloud number it is almost always outside
the window and needs an approved template; without one the dispatcher holds it as
``needs_template``. A rule set's stage may name one beside its texts::

    "primeiro_contato": {"delay": "3d", "max_followups": 2, "texts": [...],
                         "template": {"name": "plantao_lembrete", "language": "pt_BR",
                                      "parameters": [{"field": "first_name"}]}}

Every follow-up of the stage carries it; the dispatcher sends the text inside the window (and on
Evolution numbers) and the template outside. Followup knows a doctor only by name, so a
parameter is ``{"field": "name"}``, ``{"field": "first_name"}`` (without a name both read
"Dr(a).", as ``{nome}`` in the texts) or a literal ``{"text": …}``; ``name`` per parameter for a
template of named parameters. On save the shape is checked (a 422 naming the field), then the
dispatcher's registry (``check_stage_templates``): it exists, is APPROVED and takes the
parameters mapped, else a 422 naming ``rules.<stage>.template.…``; a registry that cannot be
asked is a 503, never a rule set saved with an unchecked template.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from disparo_followup.texts import FALLBACK_NAME
from disparo_shared.events import ConversationStage, MessageTemplate, TemplateParameter
from disparo_shared.problems import invalid
from disparo_shared.template_registry import (
    MappingError,
    RegistryUnavailable,
    TemplateRegistry,
    check_mapping,
    unavailable,
)

FIELDS = ("name", "first_name")
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
_PARAMETER_NAME = re.compile(r"^[a-z0-9_]{1,128}$")
MAX_PARAMETERS = 20
MAX_TEXT = 200


@dataclass(frozen=True)
class StepParameter:
    name: str | None
    field: str | None  # "name" or "first_name"
    text: str | None


@dataclass(frozen=True)
class StepTemplate:
    name: str
    language: str
    parameters: tuple[StepParameter, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "parameters": [
                {
                    k: v
                    for k, v in (("name", p.name), ("field", p.field), ("text", p.text))
                    if v is not None
                }
                for p in self.parameters
            ],
        }

    def filled(self, contact_name: str | None) -> MessageTemplate:
        """The template as ``messages.requested`` carries it, for a doctor named
        ``contact_name``: ``first_name`` of "Ana Souza" is "Ana"; of nobody, "Dr(a).".
        """
        full = " ".join((contact_name or "").split())
        values = {
            "name": full or FALLBACK_NAME,
            "first_name": full.split(" ")[0] if full else FALLBACK_NAME,
        }
        return MessageTemplate(
            name=self.name,
            language=self.language,
            parameters=[
                TemplateParameter(
                    name=p.name, text=p.text if p.text is not None else values[p.field or ""]
                )
                for p in self.parameters
            ],
        )


def parse_step_template(value: object, field: str) -> StepTemplate:
    """A stage's ``template`` from its JSON form; the first problem is a 422 naming its field."""
    if not isinstance(value, dict):
        raise invalid(field, "must be an object with name, language and parameters")
    if unknown := set(value) - {"name", "language", "parameters"}:
        raise invalid(f"{field}.{sorted(unknown)[0]}", "unknown field")
    name, language = value.get("name"), value.get("language")
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid(f"{field}.name", "required: Meta's template name, e.g. plantao_lembrete")
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise invalid(f"{field}.language", "required: Meta's locale, e.g. pt_BR")
    raw = value.get("parameters", [])
    if not isinstance(raw, list) or len(raw) > MAX_PARAMETERS:
        raise invalid(f"{field}.parameters", f"a list of at most {MAX_PARAMETERS} parameters")
    parameters = tuple(
        _parse_parameter(item, f"{field}.parameters[{i}]") for i, item in enumerate(raw)
    )
    named = [p.name is not None for p in parameters]
    if any(named) and not all(named):
        raise invalid(f"{field}.parameters", "name every parameter or none")
    return StepTemplate(name, language, parameters)


def _parse_parameter(item: object, field: str) -> StepParameter:
    if not isinstance(item, dict):
        raise invalid(field, 'must be {"field": "first_name"} or {"text": "…"}')
    if unknown := set(item) - {"name", "field", "text"}:
        raise invalid(f"{field}.{sorted(unknown)[0]}", "unknown field")
    name, source, text = item.get("name"), item.get("field"), item.get("text")
    if name is not None and (not isinstance(name, str) or not _PARAMETER_NAME.match(name)):
        raise invalid(f"{field}.name", "the template's parameter name, e.g. nome")
    if (source is None) == (text is None):
        raise invalid(field, "give exactly one of field and text")
    if source is not None and source not in FIELDS:
        raise invalid(
            f"{field}.field", f"followup knows a doctor by name only: one of {', '.join(FIELDS)}"
        )
    if text is not None and (
        not isinstance(text, str)
        or not text.strip()
        or len(text) > MAX_TEXT
        or any(c in text for c in "\n\t")
    ):
        raise invalid(
            f"{field}.text",
            f"one line (Meta refuses new lines and tabs) of at most {MAX_TEXT} characters",
        )
    return StepParameter(name, source, text)


async def check_stage_templates(
    registry: TemplateRegistry, templates: Mapping[ConversationStage, StepTemplate | None]
) -> None:
    """Each stage's template against the dispatcher's registry: a 422 naming
    ``rules.<stage>.template.parameters[0].name`` (or ``….name``, ``….parameters``) when it does
    not fit, a 503 when the registry cannot be asked."""
    for stage, template in templates.items():
        if template is None:
            continue
        try:
            listed = await registry.find(template.name, template.language)
        except RegistryUnavailable as exc:
            raise unavailable(f"rules.{stage.value}.template", exc) from None
        try:
            check_mapping(
                template.name, template.language, [p.name for p in template.parameters], listed
            )
        except MappingError as exc:
            path = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in exc.where
            )
            raise invalid(f"rules.{stage.value}.template{path}", exc.reason) from None
