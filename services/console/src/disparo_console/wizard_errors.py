"""campaign-api's refusals of a new campaign, placed next to the wizard's field they name and
said in the user's language (pure, no I/O).

campaign-api names the field of each problem in its request's terms and explains in English:
``followups.texts[1][0]``: "repeats a text of follow-up 1: a reminder must differ". The wizard
shows that beside the box of follow-up 2 (``plano-texto-1``) as the catalogue's
``wizard.error.followups.repeated``, and keeps the API's words as a detail. A reason the
catalogue has no specific text for gets the field's general one.
"""

import re
from dataclasses import dataclass

# (API field pattern, form field, catalogue key); the first match wins.
_FIELDS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), form_field, key)
    for pattern, form_field, key in (
        (r"^(?:body\.)?name$", "name", "wizard.error.name"),
        (r"^(?:body\.)?template$", "template", "wizard.error.template"),
        (r"^(?:body\.)?max_per_day$", "max_per_day", "wizard.error.max_per_day"),
        (r"^(?:body\.)?followups\.delay$", "plano-delay", "wizard.error.followups.delay"),
        (r"^(?:body\.)?followups\.max$", "plano-max", "wizard.error.followups.max"),
        (r"^(?:body\.)?followups\.texts\[(\d+)\]", "plano-texto-{0}",
         "wizard.error.followups.text"),
        (r"^(?:body\.)?followups\.texts$", "plano-texto-0", "wizard.error.followups.texts"),
        (r"^(?:body\.)?followups\.rule_set$", "plano-regras", "wizard.error.followups.rule_set"),
        (r"^(?:body\.)?followups", "plano", "wizard.error.followups"),
        (r"^(?:body\.)?cloud_template\.parameters\.(\d+)", "param-{0}",
         "wizard.error.cloud_template.parameter"),
        (r"^(?:body\.)?cloud_template\.parameters$", "modelo_cloud",
         "wizard.error.cloud_template.parameters"),
        (r"^(?:body\.)?cloud_template", "modelo_cloud", "wizard.error.cloud_template"),
        (r"^(?:body\.)?(?:filter|segment_id)", "construtor", "wizard.error.audience"),
    )
)  # fmt: skip

# Reasons with a more precise text than their field's: (catalogue key of the field, pattern of
# the API's reason, key to use instead; the pattern's groups fill the text's fields).
_REASONS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (field_key, re.compile(pattern), key)
    for field_key, pattern, key in (
        ("wizard.error.followups.delay", r"^at least", "wizard.error.followups.delay_short"),
        ("wizard.error.followups.delay", r"^at most", "wizard.error.followups.delay_long"),
        ("wizard.error.followups.text", r"^repeats", "wizard.error.followups.repeated"),
        ("wizard.error.followups.text", r"^position (?P<position>\d+)",
         "wizard.error.followups.syntax"),
        ("wizard.error.followups.texts", r"written for max", "wizard.error.followups.too_many"),
        ("wizard.error.cloud_template", r"^no template", "wizard.error.cloud_template.unknown"),
        ("wizard.error.cloud_template", r"not APPROVED", "wizard.error.cloud_template.unapproved"),
        ("wizard.error.cloud_template.parameters", r"takes (?P<expected>\d+) body",
         "wizard.error.cloud_template.count"),
        ("wizard.error.template", r"position (?P<position>\d+)", "wizard.error.template_syntax"),
    )
)  # fmt: skip

GENERAL = ("", "wizard.error.general")
REGISTRY_DOWN_KEY = "wizard.error.cloud_template.unavailable"


@dataclass(frozen=True)
class FieldError:
    """A refusal to show beside ``form_field`` ("" for the form as a whole): the catalogue's
    ``key`` filled with ``values``, and the service's own words as ``detail``."""

    form_field: str
    key: str
    values: dict[str, str]
    detail: str


def place_error(api_field: str, reason: str) -> FieldError:
    """Where and how the wizard shows one of campaign-api's ``{field, reason}`` pairs."""
    form_field, key, values = GENERAL[0], GENERAL[1], {}
    for pattern, target, field_key in _FIELDS:
        match = pattern.search(api_field)
        if match:
            form_field, key = target.format(*match.groups()), field_key
            break
    for field_key, pattern, precise in _REASONS:
        if field_key != key:
            continue
        found = pattern.search(reason)
        if found:
            key, values = precise, found.groupdict()
            break
    if key == "wizard.error.cloud_template.parameter":
        values = {"n": str(int(form_field.rsplit("-", 1)[1]) + 1)}
    return FieldError(form_field, key, values, reason)


def place_errors(errors: list[dict[str, str]]) -> dict[str, list[FieldError]]:
    """Every refusal by the form field it is shown beside; the first ones first."""
    placed: dict[str, list[FieldError]] = {}
    for error in errors:
        found = place_error(str(error.get("field") or ""), str(error.get("reason") or ""))
        placed.setdefault(found.form_field, []).append(found)
    return placed


def registry_unavailable(detail: str) -> dict[str, list[FieldError]]:
    """campaign-api could not ask the dispatcher's registry (its 503): shown at the template."""
    return {"modelo_cloud": [FieldError("modelo_cloud", REGISTRY_DOWN_KEY, {}, detail)]}
