"""The wizard's follow-up plan step: its fields read into campaign-api's ``followups``, and what
a doctor who stays silent would get, for the preview (pure, no I/O).

The mode (``plano``) is ``padrao`` (left out: followup's default rules), ``proprio`` (the
campaign's own plan), ``regras`` (a rule set of followup, ``plano-regras``) or ``nenhum``. An
own plan has ``plano-delay`` ("2d", "36h"), ``plano-max`` and one box per follow-up,
``plano-texto-0`` …, whose variants are separated by a line holding only ``---`` (as on the
follow-up rules page). E.g. proprio, 2d, 2, "Oi {nome}!" and "E aí, {primeiro_nome}?" is::

    {"delay": "2d", "max": 2, "texts": [["Oi {nome}!"], ["E aí, {primeiro_nome}?"]]}

A maximum that is not a whole number is passed on as typed, so campaign-api's 422 names it.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from disparo_shared.durations import InvalidDuration, parse_duration
from disparo_shared.followup_plans import DEFAULT_PLAN_MAX, MAX_PLAN_FOLLOWUPS

MODES = ("padrao", "proprio", "regras", "nenhum")
DEFAULT_RULE_SET = "padrao"
FIRST_STAGE = "primeiro_contato"  # where a campaign's conversation opens
VARIANT_SEPARATOR = "---"
_SEPARATOR_LINE = re.compile(r"^\s*---\s*$", re.M)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(nome|primeiro_nome)\}")
NAME_FALLBACK = "Dr(a)."  # campaign-api's and followup's default for a doctor without a name


@dataclass(frozen=True)
class PlanForm:
    mode: str = "padrao"
    delay: str = "3d"
    max_followups: str = str(DEFAULT_PLAN_MAX)
    texts: tuple[str, ...] = ()
    rule_set: str = ""

    def boxes(self) -> int:
        """Text boxes shown: one per follow-up of the maximum (the API's limit at most)."""
        cap = int(self.max_followups) if self.max_followups.isdigit() else DEFAULT_PLAN_MAX
        return max(1, min(cap, MAX_PLAN_FOLLOWUPS))

    def text(self, index: int) -> str:
        return self.texts[index] if index < len(self.texts) else ""

    def followups(self) -> str | dict[str, Any] | None:
        """campaign-api's ``followups``: None (default rules), "none", a rule set or a plan."""
        if self.mode == "nenhum":
            return "none"
        if self.mode == "regras":
            return {"rule_set": self.rule_set}
        if self.mode != "proprio":
            return None
        cap: int | str = (
            int(self.max_followups) if self.max_followups.isdigit() else self.max_followups
        )
        texts = [_variants(self.text(i)) for i in range(self.boxes())]
        plan: dict[str, Any] = {"delay": self.delay.strip(), "max": cap}
        if any(texts):  # all left empty: the spec's texts
            plan["texts"] = texts
        return plan


def read_plan_form(form: Mapping[str, str]) -> PlanForm:
    mode = form.get("plano", "padrao")
    texts = []
    for i in range(MAX_PLAN_FOLLOWUPS):
        texts.append(form.get(f"plano-texto-{i}", ""))
    while texts and not texts[-1].strip():
        texts.pop()
    return PlanForm(
        mode=mode if mode in MODES else "padrao",
        delay=form.get("plano-delay", "3d").strip() or "3d",
        max_followups=form.get("plano-max", str(DEFAULT_PLAN_MAX)).strip(),
        texts=tuple(texts),
        rule_set=form.get("plano-regras", "").strip(),
    )


def _variants(text: str) -> list[str]:
    return [v.strip() for v in _SEPARATOR_LINE.split(text.replace("\r\n", "\n")) if v.strip()]


@dataclass(frozen=True)
class PreviewStep:
    """Follow-up ``number`` goes ``after_seconds`` after the campaign's message to a doctor who
    has not answered; ``texts`` are its variants, written for the sample doctor."""

    number: int
    after_seconds: int | None
    texts: tuple[str, ...]


def render_for(text: str, doctor_name: str | None) -> str:
    """``text`` as the doctor named ``doctor_name`` reads it: ``{nome}`` is the name,
    ``{primeiro_nome}`` its first word, ``{{``/``}}`` are braces; no name is "Dr(a).".
    ``render_for("Oi {primeiro_nome}!", "Ana Souza")`` is "Oi Ana!"."""
    name = (doctor_name or "").strip() or NAME_FALLBACK
    first = name.split()[0]

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return name if match.group(1) == "nome" else first

    return _PLACEHOLDER.sub(fill, text)


def preview_steps(
    delay: str, cap: int, texts: list[list[str]], doctor_name: str | None
) -> list[PreviewStep]:
    """Each follow-up of a plan (``delay`` after our last message, at most ``cap``), when it
    goes and what it says: with 2d and 2 texts, the first goes 2 days after the campaign's
    message and the second 4 days after it."""
    try:
        step = parse_duration(delay)
    except InvalidDuration:
        step = None
    steps = []
    for i in range(min(cap, len(texts))):
        after = int((step * (i + 1)).total_seconds()) if step is not None else None
        steps.append(PreviewStep(i + 1, after, tuple(render_for(t, doctor_name) for t in texts[i])))
    return steps


def plan_preview(
    form: PlanForm, rule_sets: list[dict[str, Any]] | None, doctor_name: str | None
) -> list[PreviewStep]:
    """What a silent doctor gets under the chosen mode: the own plan as typed, or the named
    (or default) rule set's first-contact rule; nothing for ``nenhum``."""
    if form.mode == "nenhum":
        return []
    if form.mode == "proprio":
        plan = form.followups()
        assert isinstance(plan, dict)
        cap = plan["max"] if isinstance(plan["max"], int) else 0
        texts = plan.get("texts") or []
        return preview_steps(plan["delay"], cap, texts, doctor_name)
    wanted = form.rule_set if form.mode == "regras" else DEFAULT_RULE_SET
    chosen = next((r for r in rule_sets or [] if r.get("name") == wanted), None)
    rule = ((chosen or {}).get("rules") or {}).get(FIRST_STAGE)
    if not rule:
        return []
    return preview_steps(rule["delay"], rule["max_followups"], rule["texts"], doctor_name)


def plan_summary(followups: str | dict[str, Any] | None) -> dict[str, Any]:
    """A campaign's stored plan as the summary shows it: ``{"mode": …}`` with its parts."""
    if followups is None:
        return {"mode": "padrao"}
    if followups == "none":
        return {"mode": "nenhum"}
    if isinstance(followups, dict) and "rule_set" in followups:
        return {"mode": "regras", "rule_set": followups["rule_set"]}
    plan = followups if isinstance(followups, dict) else {}
    try:
        seconds = int(parse_duration(str(plan.get("delay"))).total_seconds())
    except InvalidDuration:
        seconds = None
    return {"mode": "proprio", "delay_seconds": seconds, "max": plan.get("max"),
            "texts": plan.get("texts") or []}  # fmt: skip
