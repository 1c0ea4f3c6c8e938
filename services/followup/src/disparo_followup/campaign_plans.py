"""A campaign's own follow-up plan (``disparo_shared.followup_plans``) turned into the rule set
its conversations follow.

campaign-api checks the plan and sends it on ``campaign.started``; followup keeps it per campaign
and, at each run, makes each plan a rule set named ``campaign:<campaign id>``: the default set
(``padrao``, newest version) with its ``primeiro_contato`` rule replaced by the plan's delay, cap
and texts (keeping that rule's Cloud API template, if any, for doctors outside the 24 h window:
a plan's free text cannot reach them), or left out for a plan of ``none``. So a campaign's
silent doctors get the campaign's reminders, and a conversation a recruiter moves on
(``pos_interesse``…) follows the default rules of that stage. A plan naming a rule set makes its
conversations follow that set, every stage; a name no set has yet gives no follow-ups until
someone saves that set (the job logs it).

A campaign without a plan, or whose ``campaign.started`` has not reached followup yet, follows
``padrao``: the plan travels on a different stream than the campaign's messages, and the first
follow-up is due 30 minutes at the earliest after them.
"""

from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_followup.rule_sets import DEFAULT_RULE_SET, RuleSet, current_rule_sets
from disparo_followup.rules import FollowupRule
from disparo_shared.durations import parse_duration
from disparo_shared.events import CampaignStarted, ConversationStage
from disparo_shared.followup_plans import FollowupPlan
from disparo_shared.logging import get_logger
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "campaign_plans.sql")
log = get_logger(__name__)


def plan_rule_set_key(campaign_id: UUID, plan: FollowupPlan) -> str:
    """The rule set a campaign's conversations follow under ``plan``."""
    if plan.mode == "rule_set" and plan.rule_set:
        return plan.rule_set
    return f"campaign:{campaign_id}"


async def on_campaign_started(conn: asyncpg.Connection, event: CampaignStarted) -> None:
    """Keep the campaign's plan; without one its conversations follow the default set."""
    plan = event.followups
    if plan is None:
        return
    await conn.execute(
        SQL.record_campaign_plan,
        event.campaign_id,
        plan.mode,
        plan_rule_set_key(event.campaign_id, plan),
        plan.model_dump(mode="json", exclude_none=True),
        event.occurred_at,
    )


def plan_rule_set(key: str, plan: FollowupPlan, default: RuleSet) -> RuleSet:
    """The rule set of a campaign's own plan (see the module's docstring)."""
    rules = dict(default.rules)
    stage = ConversationStage.PRIMEIRO_CONTATO
    if plan.mode == "own" and plan.delay and plan.max_followups and plan.texts:
        default_rule = default.rules.get(stage)
        rules[stage] = FollowupRule(
            stage,
            parse_duration(plan.delay),
            plan.max_followups,
            tuple(tuple(variants) for variants in plan.texts),
            # a plan writes free text; doctors outside the Cloud 24 h window get the default
            # first-contact template, when ops named one
            default_rule.template if default_rule else None,
        )
    else:
        rules.pop(stage, None)
    return RuleSet(key, default.version, rules, None, None)


async def rule_sets_in_force(
    pool: asyncpg.Pool, builtin: dict[ConversationStage, FollowupRule]
) -> dict[str, RuleSet]:
    """Every rule set a conversation may follow: the saved ones (``padrao`` built in until
    saved) and one per campaign plan of its own."""
    sets = await current_rule_sets(pool, builtin)
    default = sets[DEFAULT_RULE_SET]
    for row in await pool.fetch(SQL.own_plans):
        plan = FollowupPlan.model_validate(row["plan"])
        sets[row["rule_set_key"]] = plan_rule_set(row["rule_set_key"], plan, default)
    for name in await pool.fetch(SQL.named_plan_sets):
        if name["rule_set_key"] not in sets:
            log.warning("a campaign plan names a rule set nobody saved", rule_set=name[0])
    return sets


async def rule_set_key_of(pool: asyncpg.Pool, conversation_id: UUID) -> str | None:
    """The name of the rule set ``conversation_id`` follows (None: no such conversation)."""
    return await pool.fetchval(SQL.rule_set_key_of, conversation_id)
