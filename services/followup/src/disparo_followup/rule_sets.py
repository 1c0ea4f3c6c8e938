"""Follow-up rules and texts as named, versioned rule sets that ops read and change over HTTP.

A rule set maps each stage to its cadence and texts, e.g.::

    {"primeiro_contato": {"delay": "3d", "max_followups": 2,
                          "texts": [["Oi {nome}! …", "Oi {nome}, tudo bem? …"],   # 1st follow-up
                                    ["E aí {nome} …", "Oi {nome}! Conseguiu …"]]}}  # 2nd

A stage may also name an approved Cloud API ``template`` for doctors outside their 24 h window
(``step_templates``). A stage left out gets no follow-ups. Saving writes a new version (every
version is kept); the job always uses each set's newest. ``padrao`` is the default set: until
someone saves it, it is the spec's rules and texts (version 0). Validation names the field of the
first problem, as campaign templates do:
``rules.pos_oferta.texts[0][1]: position 3: unmatched '{'``.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from litestar.status_codes import HTTP_409_CONFLICT

from disparo_followup.rules import FollowupRule
from disparo_followup.step_templates import parse_step_template
from disparo_followup.texts import text_problem
from disparo_shared.durations import InvalidDuration, format_duration, parse_duration
from disparo_shared.events import ConversationStage
from disparo_shared.problems import Problem, invalid
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "rule_sets.sql")

DEFAULT_RULE_SET = "padrao"
MAX_FOLLOWUPS = 10
NAME_PATTERN = "^[a-z0-9][a-z0-9_-]{0,62}$"


@dataclass(frozen=True)
class RuleSet:
    name: str
    version: int
    rules: dict[ConversationStage, FollowupRule]
    created_at: datetime | None
    created_by: str | None

    def key(self, stage: ConversationStage) -> str:
        """How summaries and metrics name one rule: ``padrao/primeiro_contato``."""
        return f"{self.name}/{stage.value}"


def rules_json(rules: dict[ConversationStage, FollowupRule]) -> dict[str, Any]:
    return {stage.value: _rule_json(rule) for stage, rule in rules.items()}


def _rule_json(rule: FollowupRule) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "delay": format_duration(rule.delay),
        "max_followups": rule.max_followups,
        "texts": [list(variants) for variants in rule.texts],
    }
    if rule.template is not None:
        shown["template"] = rule.template.as_json()
    return shown


def rule_set_json(rule_set: RuleSet) -> dict[str, Any]:
    return {
        "name": rule_set.name,
        "version": rule_set.version,
        "created_at": rule_set.created_at,
        "created_by": rule_set.created_by,
        "rules": rules_json(rule_set.rules),
    }


def parse_rules(payload: object, field: str = "rules") -> dict[ConversationStage, FollowupRule]:
    """Validated rules from their JSON form; the first problem is a 422 naming its field."""
    if not isinstance(payload, dict):
        raise invalid(field, "must be an object of stages")
    rules: dict[ConversationStage, FollowupRule] = {}
    for key, value in payload.items():
        try:
            stage = ConversationStage(key)
        except ValueError:
            raise invalid(
                f"{field}.{key}", "not a stage (primeiro_contato, pos_interesse, pos_oferta)"
            ) from None
        if stage == ConversationStage.ENCERRADA:
            raise invalid(f"{field}.{key}", "a closed conversation gets no follow-ups")
        rules[stage] = _parse_stage(stage, value, f"{field}.{key}")
    return rules


def _parse_stage(stage: ConversationStage, value: object, field: str) -> FollowupRule:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object with delay, max_followups and texts")
    if unknown := set(value) - {"delay", "max_followups", "texts", "template"}:
        raise invalid(f"{field}.{sorted(unknown)[0]}", "unknown field")
    delay_text = value.get("delay")
    if not isinstance(delay_text, str):
        raise invalid(f"{field}.delay", "required: a duration such as 3d, 36h or PT30M")
    try:
        delay = parse_duration(delay_text)
    except InvalidDuration as exc:
        raise invalid(f"{field}.delay", str(exc)) from None
    cap = value.get("max_followups")
    if not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= MAX_FOLLOWUPS:
        raise invalid(f"{field}.max_followups", f"required: a whole number 0 to {MAX_FOLLOWUPS}")
    texts = value.get("texts")
    if not isinstance(texts, list) or len(texts) < cap:
        raise invalid(
            f"{field}.texts", f"required: a list of variants for each of the {cap} follow-ups"
        )
    attempts: list[tuple[str, ...]] = []
    seen: dict[str, int] = {}
    for i, variants in enumerate(texts):
        variants = [variants] if isinstance(variants, str) else variants
        if not isinstance(variants, list) or not variants:
            raise invalid(f"{field}.texts[{i}]", "must be a non-empty list of texts")
        for j, text in enumerate(variants):
            where = f"{field}.texts[{i}][{j}]"
            if not isinstance(text, str):
                raise invalid(where, "must be a text")
            if problem := text_problem(text):
                raise invalid(where, problem)
            if text in seen and seen[text] != i:
                raise invalid(
                    where, f"repeats a text of follow-up {seen[text] + 1}: a reminder must differ"
                )
            seen[text] = i
        attempts.append(tuple(variants))
    template = value.get("template")
    if template is not None:
        template = parse_step_template(template, f"{field}.template")
    return FollowupRule(stage, delay, cap, tuple(attempts), template)


def _from_row(row: asyncpg.Record) -> RuleSet:
    return RuleSet(
        name=row["name"],
        version=row["version"],
        rules=parse_rules(row["rules"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


async def current_rule_sets(
    conn: asyncpg.Connection | asyncpg.Pool, builtin: dict[ConversationStage, FollowupRule]
) -> dict[str, RuleSet]:
    """The newest version of every rule set; ``padrao`` is ``builtin`` (version 0) until saved."""
    sets = {row["name"]: _from_row(row) for row in await conn.fetch(SQL.current_rule_sets)}
    sets.setdefault(DEFAULT_RULE_SET, RuleSet(DEFAULT_RULE_SET, 0, dict(builtin), None, None))
    return sets


async def save_rule_set(
    pool: asyncpg.Pool,
    name: str,
    rules: dict[ConversationStage, FollowupRule],
    by: str,
    expected_version: int | None,
    now: datetime,
) -> RuleSet:
    """Store ``rules`` as the next version of ``name``; with ``expected_version``, a 409 when
    someone saved another version meanwhile (no edit is lost silently)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(SQL.lock_rule_set_name, name)
        latest = await conn.fetchval(SQL.latest_version, name) or 0
        if expected_version is not None and expected_version != latest:
            raise Problem(
                HTTP_409_CONFLICT,
                "Rule set changed meanwhile",
                f"{name} is at version {latest}, not {expected_version}: read it again",
                errors=[{"field": "expected_version", "reason": f"current version is {latest}"}],
            )
        row = await conn.fetchrow(SQL.insert_rule_set, name, latest + 1, rules_json(rules), now, by)
        return _from_row(row)
