"""The follow-up rules form: followup's rule set as form fields and back (pure, no I/O).

Per stage the form has ``<stage>-delay`` ("3d", "36h"), ``<stage>-max`` and one textarea per
follow-up, ``<stage>-texts-<i>``, whose variants are separated by a line holding only ``---``
(a variant may span lines: WhatsApp texts often do). A stage whose delay is left empty gets no
follow-ups. followup validates the rest and names the field of the first problem, which
``field_of_problem`` maps back to the form's field.
"""

import re
from typing import Any

STAGES = ("primeiro_contato", "pos_interesse", "pos_oferta")
VARIANT_SEPARATOR = "---"
MIN_TEXT_BOXES = 3  # one more box than the spec's largest default (2 follow-ups)
_SEPARATOR_LINE = re.compile(r"^\s*---\s*$", re.M)


def boxes_for(rule: dict[str, Any] | None) -> int:
    """Textareas shown for a stage: every follow-up it has, and room for one more."""
    if not rule:
        return MIN_TEXT_BOXES
    return max(MIN_TEXT_BOXES, len(rule.get("texts", [])) + 1)


def form_from_rules(rules: dict[str, Any]) -> dict[str, str]:
    """The form's values for a rule set as followup shows it."""
    values: dict[str, str] = {}
    for stage in STAGES:
        rule = rules.get(stage)
        values[f"{stage}-delay"] = rule["delay"] if rule else ""
        values[f"{stage}-max"] = str(rule["max_followups"]) if rule else "0"
        texts = rule["texts"] if rule else []
        for i in range(boxes_for(rule)):
            variants = texts[i] if i < len(texts) else []
            values[f"{stage}-texts-{i}"] = f"\n{VARIANT_SEPARATOR}\n".join(variants)
    return values


def _variants(text: str) -> list[str]:
    return [v.strip() for v in _SEPARATOR_LINE.split(text.replace("\r\n", "\n")) if v.strip()]


def rules_from_form(form: dict[str, str], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``rules`` of ``PUT /v1/followup-rules`` from the posted form.

    ``{"pos_interesse-delay": "1d", "pos_interesse-max": "1", "pos_interesse-texts-0":
    "Oi!\\n---\\nOlá!"}`` is ``{"pos_interesse": {"delay": "1d", "max_followups": 1,
    "texts": [["Oi!", "Olá!"]]}}``; a maximum that is not a whole number is passed on as typed,
    so followup's 422 names it. What the form does not edit is kept from ``current`` (the rule
    set as read): a stage's Cloud API ``template`` stays with the stage.
    """
    rules: dict[str, Any] = {}
    for stage in STAGES:
        delay = form.get(f"{stage}-delay", "").strip()
        if not delay:
            continue
        cap_text = form.get(f"{stage}-max", "").strip()
        cap: int | str = int(cap_text) if cap_text.isdigit() else cap_text
        boxes = [
            _variants(form[key])
            for key in sorted(
                (k for k in form if k.startswith(f"{stage}-texts-")),
                key=lambda k: int(k.rsplit("-", 1)[1]) if k.rsplit("-", 1)[1].isdigit() else 0,
            )
        ]
        while boxes and not boxes[-1]:
            boxes.pop()  # the spare boxes left empty
        rules[stage] = {"delay": delay, "max_followups": cap, "texts": boxes}
        kept = (current or {}).get(stage) or {}
        if kept.get("template") is not None:
            rules[stage]["template"] = kept["template"]
    return rules


def field_of_problem(api_field: str) -> str | None:
    """The form field behind followup's ``rules.<stage>.<part>[...]``: ``rules.pos_oferta.delay``
    is ``pos_oferta-delay``, ``rules.pos_oferta.texts[1][0]`` is ``pos_oferta-texts-1``."""
    match = re.match(r"rules\.([a-z_]+)(?:\.([a-z_]+))?(?:\[(\d+)\])?", api_field)
    if not match or match.group(1) not in STAGES:
        return None
    stage, part, index = match.groups()
    if part == "delay":
        return f"{stage}-delay"
    if part == "max_followups":
        return f"{stage}-max"
    if part == "texts":
        return f"{stage}-texts-{index or 0}"
    return f"{stage}-delay"
