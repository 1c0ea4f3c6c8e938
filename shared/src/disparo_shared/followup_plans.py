"""A campaign's own follow-up plan: what a recruiter writes when creating a campaign, checked
the same way where it is written (campaign-api, a 422 naming the field) and where it is applied
(followup, which receives it on ``campaign.started``).

The spec's S5.E2.3 rule for a doctor who did not answer is a delay, a cap and one text per
follow-up (``dias_ate_followup``, ``max_followups``, ``mensagens``). A plan says the same for
one campaign, in the words of followup's rule sets::

    "followups": {"delay": "2d", "max": 2,
                  "texts": ["Oi {nome}! Viu a vaga?",                       # 1st follow-up
                            ["E aí {primeiro_nome}?", "Oi {nome}, tudo bem?"]]}  # 2nd: variants

- ``delay``: a duration (``3d``, ``36h``, ``1d12h``, ``PT30M``) after our last message,
  between ``MIN_PLAN_DELAY`` and ``MAX_PLAN_DELAY``; default ``3d`` (the spec's).
- ``max``: follow-ups at most, 1 to ``MAX_PLAN_FOLLOWUPS``; default 2 (the spec's).
- ``texts``: one entry per follow-up, a text or a list of variants (a doctor always gets the same
  variant of an attempt); left out, ``FIRST_CONTACT_TEXTS`` (the spec's, in Portuguese). A text
  may use ``{nome}`` and ``{primeiro_nome}`` as campaign templates do, ``{{``/``}}`` for braces.

Or ``"followups": {"rule_set": "plantao-noturno"}``: follow a rule set kept in followup; or
``"followups": "none"``: no follow-ups. Left out (or null): the default rule set, ``padrao``.

The plan governs the doctor's silence after the campaign (stage ``primeiro_contato``, where a
campaign's conversation opens); once a recruiter moves a conversation on (``pos_interesse``…)
the default rules for that stage apply. A named rule set governs every stage.
"""

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from disparo_shared.durations import InvalidDuration, format_duration, parse_duration
from disparo_shared.template_syntax import TemplateSyntaxError, parse_template_syntax

FOLLOWUP_PLACEHOLDERS = ("nome", "primeiro_nome")
MAX_TEXT_LENGTH = 4096
MAX_PLAN_FOLLOWUPS = 5
# Fewer than 30 minutes after a campaign is not a reminder, it is a second message (and doctors
# report a number that writes twice in a row, which costs the sender its quality rating); past
# 30 days the doctor has forgotten the campaign, and reports no longer hold its events.
MIN_PLAN_DELAY = timedelta(minutes=30)
MAX_PLAN_DELAY = timedelta(days=30)
DEFAULT_PLAN_DELAY = timedelta(days=3)
DEFAULT_PLAN_MAX = 2
RULE_SET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# The spec's two first-contact texts open the first two attempts; the rest say the same in other
# words, so that a plan of up to five follow-ups never repeats itself. Each attempt has variants.
FIRST_CONTACT_TEXTS: tuple[tuple[str, ...], ...] = (
    (
        "Oi {nome}! Vi que mandei msg outro dia mas não deu pra gente conversar. "
        "Ainda tem interesse em plantão?",
        "Oi {nome}, tudo bem? Te mandei uma mensagem outro dia e acho que ficou perdida. "
        "Ainda tem interesse em plantão?",
        "{nome}, tudo certo? Passando pra retomar a mensagem que te mandei sobre plantões. "
        "Ainda faz sentido pra você?",
    ),
    (
        "E aí {nome}, tudo bem? Só passando pra ver se conseguiu ver as vagas que te mandei. "
        "Qualquer coisa só falar!",
        "Oi {nome}! Conseguiu dar uma olhada nas vagas de plantão que te mandei? "
        "Qualquer dúvida é só me chamar!",
        "{nome}, pra não te incomodar: se quiser saber das vagas de plantão, é só responder "
        "essa mensagem!",
    ),
    (
        "Oi {nome}! Surgiram vagas novas de plantão essa semana. Quer que eu te mande as opções?",
        "{nome}, tudo bem? Tenho plantões abertos na sua região. Posso te passar os detalhes?",
    ),
    (
        "Oi {nome}, ainda estou com vagas de plantão em aberto. Se fizer sentido pra você, "
        "é só responder aqui!",
        "{nome}, passando rapidinho: as vagas de plantão continuam disponíveis. Tem interesse?",
    ),
    (
        "Oi {nome}! Essa é minha última mensagem sobre os plantões, pra não te incomodar. "
        "Se um dia tiver interesse, é só me chamar aqui.",
        "{nome}, não vou mais insistir! Quando quiser saber de vagas de plantão, me chama aqui.",
    ),
)


class PlanError(ValueError):
    """A plan cannot be accepted: ``field`` is the path below ``followups`` (``texts[1][0]``,
    empty for the plan itself) and ``reason`` says why in terms the author can act on."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class FollowupPlan(BaseModel):
    """The checked plan, as stored by campaign-api and carried on ``campaign.started``.

    ``mode`` ``own`` has ``delay`` (canonical, e.g. ``2d``), ``max_followups`` and ``texts`` (one
    list of variants per follow-up); ``rule_set`` has ``rule_set``; ``none`` has nothing else."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["own", "rule_set", "none"]
    rule_set: str | None = Field(
        None, max_length=200, description="The rule set followed (mode rule_set)."
    )
    delay: str | None = Field(
        None, max_length=200, description="After our last message, e.g. 2d (mode own)."
    )
    max_followups: int | None = Field(None, ge=1, description="At most (mode own).")
    texts: list[list[Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]]] | None = Field(
        None, description="Per follow-up, its variants (mode own)."
    )

    def as_request(self) -> str | dict:
        """The plan as a recruiter would write it (what the campaign API answers)."""
        if self.mode == "none":
            return "none"
        if self.mode == "rule_set":
            return {"rule_set": self.rule_set}
        return {"delay": self.delay, "max": self.max_followups, "texts": self.texts}


def followup_text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a follow-up text (naming the 1-based position), or None.

    ``followup_text_problem("Oi {nome")`` → ``"position 4: a { that is never closed …"``.
    """
    if not text.strip():
        return "position 1: the text is blank"
    if len(text) > MAX_TEXT_LENGTH:
        return f"position {MAX_TEXT_LENGTH + 1}: longer than {MAX_TEXT_LENGTH} characters"
    try:
        parse_template_syntax(
            text,
            lambda name: name in FOLLOWUP_PLACEHOLDERS,
            ", ".join("{" + p + "}" for p in FOLLOWUP_PLACEHOLDERS),
        )
    except TemplateSyntaxError as exc:
        return exc.reason
    return None


def check_texts(texts: object, cap: int) -> list[list[str]]:
    """One list of variants per follow-up, at least ``cap`` of them, each text valid, and no
    text reused by another attempt (a second reminder must not repeat the first)."""
    if not isinstance(texts, list) or len(texts) < cap:
        raise PlanError("texts", f"a text (or a list of variants) for each of the {cap} follow-ups")
    attempts: list[list[str]] = []
    seen: dict[str, int] = {}
    for i, variants in enumerate(texts):
        variants = [variants] if isinstance(variants, str) else variants
        if not isinstance(variants, list) or not variants:
            raise PlanError(f"texts[{i}]", "a text or a non-empty list of texts")
        for j, text in enumerate(variants):
            where = f"texts[{i}][{j}]"
            if not isinstance(text, str):
                raise PlanError(where, "must be a text")
            if problem := followup_text_problem(text):
                raise PlanError(where, problem)
            if seen.get(text, i) != i:
                raise PlanError(
                    where, f"repeats a text of follow-up {seen[text] + 1}: a reminder must differ"
                )
            seen[text] = i
        attempts.append(list(variants))
    return attempts


def parse_followup_plan(
    value: object, min_delay: timedelta = MIN_PLAN_DELAY
) -> FollowupPlan | None:
    """The plan ``value`` writes (see the module's docstring), or None for the default rule set;
    raises ``PlanError`` at the first problem. ``min_delay`` is lowered only by test stacks."""
    if value is None:
        return None
    if value == "none":
        return FollowupPlan(mode="none")
    if not isinstance(value, dict):
        raise PlanError("", 'an object {"delay", "max", "texts"}, {"rule_set": name} or "none"')
    if "rule_set" in value:
        if unknown := set(value) - {"rule_set"}:
            raise PlanError(sorted(unknown)[0], "a plan naming a rule set has nothing else")
        name = value["rule_set"]
        if not isinstance(name, str) or not RULE_SET_NAME.match(name):
            raise PlanError("rule_set", "a rule set's name: lowercase letters, digits, - and _")
        return FollowupPlan(mode="rule_set", rule_set=name)
    if unknown := set(value) - {"delay", "max", "texts"}:
        raise PlanError(sorted(unknown)[0], "unknown field (delay, max, texts or rule_set)")
    delay = _checked_delay(value.get("delay"), min_delay)
    cap = value.get("max", DEFAULT_PLAN_MAX)
    if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_PLAN_FOLLOWUPS:
        raise PlanError("max", f'a whole number 1 to {MAX_PLAN_FOLLOWUPS} (for none, write "none")')
    given = value.get("texts")
    if isinstance(given, list) and len(given) > cap:
        raise PlanError(
            "texts", f"{len(given)} follow-ups written for max {cap}: raise max or drop"
        )
    texts = (
        [list(variants) for variants in FIRST_CONTACT_TEXTS[:cap]]
        if given is None
        else check_texts(given, cap)
    )
    return FollowupPlan(mode="own", delay=format_duration(delay), max_followups=cap, texts=texts)


def _checked_delay(value: object, min_delay: timedelta) -> timedelta:
    if value is None:
        return DEFAULT_PLAN_DELAY
    if not isinstance(value, str):
        raise PlanError("delay", "a duration such as 3d, 36h, 1d12h or PT30M")
    try:
        delay = parse_duration(value)
    except InvalidDuration as exc:
        raise PlanError("delay", str(exc)) from None
    if delay < min_delay:
        raise PlanError("delay", f"at least {format_duration(min_delay)} after our last message")
    if delay > MAX_PLAN_DELAY:
        raise PlanError("delay", f"at most {format_duration(MAX_PLAN_DELAY)}")
    return delay
