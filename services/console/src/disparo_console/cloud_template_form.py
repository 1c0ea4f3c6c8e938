"""The wizard's Cloud template step: which approved templates can be chosen, each body
parameter mapped to a doctor's field, and the template as a sample doctor reads it (pure).

On a Cloud API number a doctor outside the 24 h window can only get an approved template, so the
step shows when a number is Cloud (``needs_cloud_template``). The choice (``modelo_cloud``) is
``name|language``; parameter ``i`` has ``param-<i>-field`` (``first_name``, ``name``,
``specialty``, ``region``, ``attribute`` or ``text``), ``param-<i>-value`` (the attribute's key or
the fixed text) and ``param-<i>-fallback``. E.g. ``plantao_aviso|pt_BR`` with body "Olá, {{1}}!
Plantões de {{2}}." mapped to first_name and specialty (fallback "clínica") is::

    {"name": "plantao_aviso", "language": "pt_BR",
     "parameters": [{"field": "first_name"}, {"field": "specialty", "fallback": "clínica"}]}
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CLOUD_PROVIDER = "cloud"
SOURCES = ("first_name", "name", "specialty", "region", "attribute", "text")
DEFAULT_SOURCES = ("first_name", "specialty", "region")
NAME_FALLBACK = "Dr(a)."
_BODY_PARAMETER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True)
class ApprovedTemplate:
    """A template approved in at least one account, with the same parameters in each."""

    name: str
    language: str
    category: str
    body: str
    parameters: tuple[str, ...]  # {{1}}, {{2}} as "1", "2"; named ones by name

    @property
    def key(self) -> str:
        return f"{self.name}|{self.language}"

    @property
    def named(self) -> bool:
        return any(not p.isdigit() for p in self.parameters)


def needs_cloud_template(senders: list[dict[str, Any]]) -> bool:
    """Whether any number that may send is a Cloud API number."""
    return any(
        s.get("provider") == CLOUD_PROVIDER and s.get("status") != "disabled" for s in senders
    )


def approved_templates(rows: list[Mapping[str, Any]]) -> list[ApprovedTemplate]:
    """The registry's rows (one per account) as the templates a campaign may name: approved,
    with one shape of parameters across accounts (campaign-api refuses the others)."""
    shapes: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    first: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        if row.get("status") != "APPROVED":
            continue
        key = (str(row["name"]), str(row["language"]))
        shapes.setdefault(key, set()).add(tuple(row.get("parameters") or []))
        first.setdefault(key, row)
    return [
        ApprovedTemplate(
            name=name,
            language=language,
            category=str(first[(name, language)].get("category") or ""),
            body=str(first[(name, language)].get("body") or ""),
            parameters=next(iter(shapes[(name, language)])),
        )
        for name, language in sorted(shapes)
        if len(shapes[(name, language)]) == 1
    ]


@dataclass(frozen=True)
class ParameterChoice:
    source: str
    value: str = ""
    fallback: str = ""


@dataclass(frozen=True)
class CloudTemplateForm:
    chosen: ApprovedTemplate | None = None
    choice_key: str = ""  # as posted, kept even when the registry no longer lists it
    parameters: tuple[ParameterChoice, ...] = field(default_factory=tuple)

    def cloud_template(self) -> dict[str, Any] | None:
        """campaign-api's ``cloud_template``, or None when no template is chosen."""
        if self.chosen is None:
            if "|" in self.choice_key:  # listed no more: let campaign-api say why
                name, language = self.choice_key.split("|", 1)
                return {"name": name, "language": language, "parameters": []}
            return None
        parameters = []
        for wanted, choice in zip(self.chosen.parameters, self.parameters, strict=False):
            parameter: dict[str, Any] = {"name": wanted} if self.chosen.named else {}
            if choice.source == "text":
                parameter["text"] = choice.value
            else:
                parameter["field"] = (
                    f"attributes.{choice.value.strip()}"
                    if choice.source == "attribute"
                    else choice.source
                )
                if choice.fallback.strip():
                    parameter["fallback"] = choice.fallback.strip()
            parameters.append(parameter)
        return {"name": self.chosen.name, "language": self.chosen.language,
                "parameters": parameters}  # fmt: skip


def read_cloud_template_form(
    form: Mapping[str, str], templates: list[ApprovedTemplate]
) -> CloudTemplateForm:
    key = form.get("modelo_cloud", "").strip()
    chosen = next((t for t in templates if t.key == key), None)
    if chosen is None:
        return CloudTemplateForm(choice_key=key)
    choices = []
    for i in range(len(chosen.parameters)):
        default = DEFAULT_SOURCES[i] if i < len(DEFAULT_SOURCES) else "text"
        source = form.get(f"param-{i}-field", default)
        choices.append(
            ParameterChoice(
                source=source if source in SOURCES else default,
                value=form.get(f"param-{i}-value", ""),
                fallback=form.get(f"param-{i}-fallback", ""),
            )
        )
    return CloudTemplateForm(chosen=chosen, choice_key=key, parameters=tuple(choices))


def parameter_value(choice: ParameterChoice, doctor: Mapping[str, Any]) -> str | None:
    """What the doctor gets for one parameter; None when the field is empty with no fallback
    (that doctor's message then goes without the template, as campaign-api counts it)."""
    if choice.source == "text":
        return choice.value or None
    name = (doctor.get("name") or "").strip()
    values = {
        "name": name,
        "first_name": name.split()[0] if name else "",
        "specialty": doctor.get("specialty") or "",
        "region": doctor.get("region") or "",
        "attribute": str((doctor.get("attributes") or {}).get(choice.value.strip()) or ""),
    }
    found = values.get(choice.source, "")
    if found:
        return found
    if choice.fallback.strip():
        return choice.fallback.strip()
    return NAME_FALLBACK if choice.source in ("name", "first_name") else None


def render_body(form: CloudTemplateForm, doctor: Mapping[str, Any]) -> tuple[str, bool]:
    """The template's body for ``doctor`` and whether every parameter had a value: "Olá,
    {{1}}!" with first_name for Ana Souza is ("Olá, Ana!", True)."""
    if form.chosen is None:
        return "", False
    by_name = {
        wanted: parameter_value(choice, doctor)
        for wanted, choice in zip(form.chosen.parameters, form.parameters, strict=False)
    }
    complete = all(v is not None for v in by_name.values())

    def fill(match: re.Match[str]) -> str:
        value = by_name.get(match.group(1))
        return value if value is not None else match.group(0)

    return _BODY_PARAMETER.sub(fill, form.chosen.body), complete
