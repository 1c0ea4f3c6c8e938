"""The HTTP edge of followup: conversations (list, timeline, stage, takeover, release) and a
manual run of the job. Routes parse and validate, then call plain functions."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller as HttpController
from litestar import Request, Router, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field, field_validator

from disparo_followup import privacy
from disparo_followup.campaign_plans import rule_sets_in_force
from disparo_followup.controls import (
    ChangeResult,
    ConversationChange,
    change_conversation,
    not_found,
)
from disparo_followup.conversations import conversation_state
from disparo_followup.job import FollowupSummary
from disparo_followup.loop_report import loop_report
from disparo_followup.rule_sets import (
    DEFAULT_RULE_SET,
    NAME_PATTERN,
    current_rule_sets,
    parse_rules,
    rule_set_json,
    save_rule_set,
)
from disparo_followup.rules import due_followup
from disparo_followup.scheduler import run_and_report
from disparo_followup.settings import FollowupSettings
from disparo_followup.step_templates import check_stage_templates
from disparo_followup.views import (
    contact_timeline,
    conversation_detail,
    list_conversations,
    parse_filter,
)
from disparo_shared.audit import audit_contact
from disparo_shared.contact_export import EXPORT_PATH, EXPORT_SCOPE, ContactExportRequest
from disparo_shared.events import Controller, ConversationStage
from disparo_shared.problems import invalid, problem_answers
from disparo_shared.runtime import Runtime
from disparo_shared.template_registry import DispatcherTemplates, TemplateRegistry

MAX_PAGE = 200


@dataclass(frozen=True)
class Deps:
    runtime: Runtime
    settings: FollowupSettings
    clock: Callable[[], datetime]
    registry: TemplateRegistry  # the dispatcher's Cloud templates, for stages that name one


class Who(BaseModel):
    """Who acts and why: kept in the conversation's history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field(min_length=1, max_length=200, description="The person acting, e.g. ana.lima")
    reason: str | None = Field(None, max_length=1000, description="Why, in their words.")


class StageChange(Who):
    stage: ConversationStage = Field(
        description="primeiro_contato, pos_interesse, pos_oferta or encerrada"
        " (first_contact, interested, offer_made are accepted too)."
    )


class RuleSetUpdate(BaseModel):
    """The body of ``PUT /v1/followup-rules``: the whole rule set, replacing the previous."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(DEFAULT_RULE_SET, pattern=NAME_PATTERN, description="Rule set name.")
    by: str = Field(min_length=1, max_length=200, description="Who changes it.")
    expected_version: int | None = Field(
        None, ge=0, description="The version read before editing: a 409 if another was saved."
    )
    rules: dict[str, Any] = Field(
        description="Per stage: {delay: '3d', max_followups: 2, texts: [[variants of the 1st],"
        " [variants of the 2nd]], template: {name, language, parameters: [{field: first_name}]}"
        " (optional: the approved Cloud API template for doctors outside their 24 h window)};"
        " a stage left out gets no follow-ups."
    )

    @field_validator("expected_version", mode="before")
    @classmethod
    def _a_whole_number(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true/false is not a version
            raise ValueError("must be a whole number")
        return value


class ConversationsController(HttpController):
    path = "/v1"
    tags = ("conversations",)
    opt = {"resource": "campaigns"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)

    @get("/conversations")
    async def list_conversations(
        self,
        deps: NamedDependency[Deps],
        contact: FromQuery[str | None] = None,
        campaign: FromQuery[str | None] = None,
        stage: FromQuery[str | None] = None,
        controller: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> dict[str, Any]:
        """Conversations by contact, campaign, stage and controller, a page at a time."""
        if not 1 <= limit <= MAX_PAGE:
            raise invalid("limit", f"must be between 1 and {MAX_PAGE}")
        where = parse_filter(contact, campaign, stage, controller)
        return await list_conversations(deps.runtime.pool, where, cursor, limit)

    @get("/conversations/{conversation_id:uuid}")
    async def get_conversation(
        self, deps: NamedDependency[Deps], conversation_id: FromPath[UUID]
    ) -> dict[str, Any]:
        """The conversation, its timeline and history, and the follow-up due now, if any."""
        detail = await conversation_detail(deps.runtime.pool, conversation_id)
        state = await conversation_state(deps.runtime.pool, conversation_id)
        if detail is None or state is None:
            raise not_found(conversation_id)
        sets = await rule_sets_in_force(deps.runtime.pool, deps.settings.followup_rules())
        rule_set = sets.get(detail["rule_set"])  # None: a plan names a set nobody saved
        return {
            **detail,
            "state": state,
            "due_followup": due_followup(state, rule_set.rules, deps.clock()) if rule_set else None,
        }

    @post("/conversations/{conversation_id:uuid}/stage", status_code=200)
    async def move_stage(
        self,
        deps: NamedDependency[Deps],
        conversation_id: FromPath[UUID],
        data: JSONBody[StageChange],
    ) -> ChangeResult:
        """Move the conversation to another stage; ``encerrada`` ends its follow-ups."""
        change = ConversationChange(by=data.by, reason=data.reason, stage=data.stage)
        return await change_conversation(deps.runtime.pool, conversation_id, change, deps.clock())

    @post(
        "/conversations/{conversation_id:uuid}/takeover",
        status_code=200,
        responses=problem_answers({409: "Someone else holds the conversation."}),
    )
    async def take_over(
        self, deps: NamedDependency[Deps], conversation_id: FromPath[UUID], data: JSONBody[Who]
    ) -> ChangeResult:
        """A person takes the conversation: nothing automatic goes out until released
        (409 when someone else holds it)."""
        change = ConversationChange(by=data.by, reason=data.reason, controller=Controller.HUMAN)
        return await change_conversation(deps.runtime.pool, conversation_id, change, deps.clock())

    @post(
        "/conversations/{conversation_id:uuid}/release",
        status_code=200,
        responses=problem_answers({409: "The conversation was not taken over."}),
    )
    async def release(
        self, deps: NamedDependency[Deps], conversation_id: FromPath[UUID], data: JSONBody[Who]
    ) -> ChangeResult:
        """Hand the conversation back to automation (409 when it was not taken over)."""
        change = ConversationChange(
            by=data.by, reason=data.reason, controller=Controller.AUTOMATION
        )
        return await change_conversation(deps.runtime.pool, conversation_id, change, deps.clock())

    @get("/contacts/{contact_id:uuid}/timeline")
    async def contact_messages(
        self,
        deps: NamedDependency[Deps],
        contact_id: FromPath[UUID],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> dict[str, Any]:
        """A doctor's messages across every conversation (campaigns, follow-ups, replies),
        newest first, a page at a time; an unknown doctor has an empty timeline."""
        if not 1 <= limit <= MAX_PAGE:
            raise invalid("limit", f"must be between 1 and {MAX_PAGE}")
        return await contact_timeline(deps.runtime.pool, contact_id, cursor, limit)

    @post(EXPORT_PATH.removeprefix("/v1"), status_code=200, opt={"scope": EXPORT_SCOPE})
    async def export_contact(
        self, request: Request, deps: NamedDependency[Deps], data: JSONBody[ContactExportRequest]
    ) -> dict[str, Any]:
        """What followup holds about a doctor (LGPD access request): conversations, their
        timelines with what the doctor wrote, the phone's last reply and consent. The phone is
        in the body, so it never reaches an access log; the audit trail names the contact id."""
        audit_contact(request, data.contact_id)
        return await privacy.export_contact(deps.runtime.pool, data.phone, data.contact_id)

    @get("/reports/followups")
    async def followup_report(
        self, deps: NamedDependency[Deps], campaign: FromQuery[str | None] = None
    ) -> dict[str, Any]:
        """The loop in numbers for one campaign (or all): replies and after which follow-up,
        follow-ups sent and cancelled by reason, opt-outs, takeovers, reply rate per rule."""
        where = parse_filter(None, campaign, None, None)
        return await loop_report(deps.runtime.pool, where.campaign_id)

    @get("/followup-rules")
    async def read_rules(self, deps: NamedDependency[Deps]) -> dict[str, Any]:
        """The newest version of every rule set (``padrao`` is the default)."""
        sets = await current_rule_sets(deps.runtime.pool, deps.settings.followup_rules())
        return {"rule_sets": [rule_set_json(s) for _, s in sorted(sets.items())]}

    @put(
        "/followup-rules",
        status_code=200,
        responses=problem_answers({409: "Another version was saved since expected_version."}),
    )
    async def change_rules(
        self, deps: NamedDependency[Deps], data: JSONBody[RuleSetUpdate]
    ) -> dict[str, Any]:
        """Save a rule set's next version (422 naming the field of the first problem; 409 when
        ``expected_version`` is not the newest; a stage's Cloud template is checked against the
        dispatcher's registry, 503 when it cannot be asked)."""
        rules = parse_rules(data.rules)
        await check_stage_templates(
            deps.registry, {stage: rule.template for stage, rule in rules.items()}
        )
        saved = await save_rule_set(
            deps.runtime.pool, data.name, rules, data.by, data.expected_version, deps.clock()
        )
        return rule_set_json(saved)

    @post("/admin/followups/run", status_code=200, opt={"scope": "admin"})
    async def run_now(self, deps: NamedDependency[Deps]) -> FollowupSummary:
        """Request every follow-up due now, outside the daily schedule (safe to repeat)."""
        return await run_and_report(deps.runtime.pool, deps.settings, deps.clock())


def followup_router(
    runtime: Runtime, settings: FollowupSettings, clock: Callable[[], datetime]
) -> Router:
    key = settings.dispatcher_api_key
    registry = DispatcherTemplates(
        settings.dispatcher_url,
        key.get_secret_value() if key else None,
        settings.dispatcher_timeout_seconds,
    )
    deps = Deps(runtime, settings, clock, registry)
    return Router(
        path="/",
        route_handlers=[ConversationsController],
        dependencies={"deps": Provide(lambda: deps, sync_to_thread=False)},
    )
