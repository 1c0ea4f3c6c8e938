"""Message templates of the simulated WhatsApp Business Accounts, and the checks Meta makes on a
template send.

A template belongs to one account (WABA) and is known by (name, language). Its body carries
positional (``{{1}}``) or named (``{{nome}}``) parameters, never both. A send names the template
and gives one body parameter per placeholder; the checks, in Meta's order:

1. no such (name, language) in the sender's account, or not approved (PENDING, REJECTED) →
   132001; PAUSED → 132015; DISABLED → 132016;
2. the number of body parameters differs from the placeholders → 132000;
3. a parameter of the wrong shape (not ``type: text``, a ``parameter_name`` on a positional
   template, a missing or unknown one on a named template, an empty text, or a text with a new
   line, a tab or more than four spaces in a row) → 132012;
4. the filled body is longer than 1,024 characters → 132005.

A send that passes is rendered: the placeholders replaced by the parameters, which is what the
doctor's phone shows and what ``/_sim/sends`` records.
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from disparo_simulator.outcomes import Verdict

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MAX_BODY_CHARS = 1024
_BAD_PARAMETER_TEXT = re.compile(r"[\n\t]| {5,}")


class TemplateStatus(StrEnum):
    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"


class TemplateCategory(StrEnum):
    MARKETING = "MARKETING"
    UTILITY = "UTILITY"
    AUTHENTICATION = "AUTHENTICATION"


class TemplateSpec(BaseModel):
    """A template as registered through ``POST /_sim/templates``."""

    model_config = ConfigDict(extra="forbid")

    waba_id: str | None = Field(
        None, description="The account it belongs to; the simulator's `cloud_waba_id` if unset."
    )
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field("pt_BR", min_length=2, description="Meta's locale code, e.g. pt_BR.")
    category: TemplateCategory = TemplateCategory.MARKETING
    status: TemplateStatus = TemplateStatus.APPROVED
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)


@dataclass(slots=True)
class Template:
    template_id: str
    waba_id: str
    name: str
    language: str
    category: str
    status: TemplateStatus
    body: str
    placeholders: list[str] = field(default_factory=list)

    @property
    def named(self) -> bool:
        return any(not p.isdigit() for p in self.placeholders)

    def as_graph(self) -> dict[str, object]:
        """The template as ``GET /{waba_id}/message_templates`` lists it."""
        body: dict[str, object] = {"type": "BODY", "text": self.body}
        if self.placeholders:
            if self.named:
                body["example"] = {
                    "body_text_named_params": [
                        {"param_name": p, "example": p} for p in self.placeholders
                    ]
                }
            else:
                body["example"] = {"body_text": [[f"exemplo {p}" for p in self.placeholders]]}
        return {
            "name": self.name,
            "parameter_format": "NAMED" if self.named else "POSITIONAL",
            "components": [body],
            "language": self.language,
            "status": self.status.value,
            "category": self.category,
            "id": self.template_id,
        }


@dataclass(frozen=True, slots=True)
class TemplateParameter:
    type: str
    text: str | None
    parameter_name: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateSend:
    """The ``template`` object of a send, reduced to what the checks read."""

    name: str
    language: str
    parameters: tuple[TemplateParameter, ...]


def placeholders_of(body: str) -> list[str]:
    """The distinct placeholders of ``body`` in order: ``["1", "2"]`` or ``["nome"]``."""
    seen: list[str] = []
    for match in PLACEHOLDER.finditer(body):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


class TemplateRegistry:
    """Every account's templates, by (waba_id, name, language), in registration order."""

    def __init__(self) -> None:
        self._templates: dict[tuple[str, str, str], Template] = {}
        self._next_id = 900000000000001

    def register(self, spec: TemplateSpec, default_waba_id: str) -> Template:
        """Add or replace a template; a replaced one keeps its id."""
        waba_id = spec.waba_id or default_waba_id
        key = (waba_id, spec.name, spec.language)
        existing = self._templates.get(key)
        template_id = existing.template_id if existing else str(self._next_id)
        if existing is None:
            self._next_id += 1
        template = Template(
            template_id=template_id,
            waba_id=waba_id,
            name=spec.name,
            language=spec.language,
            category=spec.category.value,
            status=spec.status,
            body=spec.body,
            placeholders=placeholders_of(spec.body),
        )
        self._templates[key] = template
        return template

    def find(self, waba_id: str, name: str, language: str) -> Template | None:
        return self._templates.get((waba_id, name, language))

    def of_account(self, waba_id: str) -> list[Template]:
        return [t for t in self._templates.values() if t.waba_id == waba_id]

    def clear(self) -> None:
        self._templates.clear()


def check_and_render(template: Template | None, send: TemplateSend) -> Verdict | str:
    """The refusal Meta would give ``send`` (see the module's order), else the filled body."""
    if template is None or template.status in (TemplateStatus.PENDING, TemplateStatus.REJECTED):
        return Verdict.TEMPLATE_MISSING
    if template.status is TemplateStatus.PAUSED:
        return Verdict.TEMPLATE_PAUSED
    if template.status is TemplateStatus.DISABLED:
        return Verdict.TEMPLATE_DISABLED
    if len(send.parameters) != len(template.placeholders):
        return Verdict.TEMPLATE_PARAM_COUNT
    values = _values_by_placeholder(template, send.parameters)
    if values is None:
        return Verdict.TEMPLATE_PARAM_FORMAT
    rendered = PLACEHOLDER.sub(lambda m: values[m.group(1)], template.body)
    if len(rendered) > MAX_BODY_CHARS:
        return Verdict.TEMPLATE_TOO_LONG
    return rendered


def _values_by_placeholder(
    template: Template, parameters: tuple[TemplateParameter, ...]
) -> dict[str, str] | None:
    """Each placeholder's text, or None when a parameter's shape breaks Meta's rules."""
    values: dict[str, str] = {}
    for position, parameter in enumerate(parameters, start=1):
        text = parameter.text
        if parameter.type != "text" or not text or _BAD_PARAMETER_TEXT.search(text):
            return None
        if template.named:
            if parameter.parameter_name not in template.placeholders:
                return None
            values[parameter.parameter_name] = text
        else:
            if parameter.parameter_name is not None or str(position) not in template.placeholders:
                return None
            values[str(position)] = text
    if len(values) != len(template.placeholders):
        return None  # a named parameter given twice
    return values
