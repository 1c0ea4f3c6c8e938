"""The HTTP edge of followup: a conversation's cadence state and a manual run of the job."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from litestar import Controller, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.status_codes import HTTP_404_NOT_FOUND

from disparo_followup.conversations import conversation_state
from disparo_followup.job import FollowupSummary
from disparo_followup.rules import ConversationState, due_followup
from disparo_followup.scheduler import run_and_report
from disparo_followup.settings import FollowupSettings
from disparo_shared.problems import Problem
from disparo_shared.runtime import Runtime


@dataclass(frozen=True)
class Deps:
    runtime: Runtime
    settings: FollowupSettings
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class ConversationView:
    conversation_id: UUID
    state: ConversationState
    due_followup: int | None


class FollowupController(Controller):
    path = "/v1"
    tags = ("followup",)
    opt = {"resource": "campaigns"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)

    @get("/conversations/{conversation_id:uuid}")
    async def get_conversation(
        self, deps: NamedDependency[Deps], conversation_id: FromPath[UUID]
    ) -> ConversationView:
        """What followup knows of a conversation and which follow-up (if any) is due now."""
        state = await conversation_state(deps.runtime.pool, conversation_id)
        if state is None:
            raise Problem(
                HTTP_404_NOT_FOUND, "Conversation not found", f"no events of {conversation_id}"
            )
        rules = deps.settings.followup_rules()
        return ConversationView(conversation_id, state, due_followup(state, rules, deps.clock()))

    @post("/admin/followups/run", status_code=200, opt={"scope": "admin"})
    async def run_now(self, deps: NamedDependency[Deps]) -> FollowupSummary:
        """Request every follow-up due now, outside the daily schedule (safe to repeat)."""
        return await run_and_report(deps.runtime.pool, deps.settings, deps.clock())


def followup_router(
    runtime: Runtime, settings: FollowupSettings, clock: Callable[[], datetime]
) -> Router:
    deps = Deps(runtime, settings, clock)
    return Router(
        path="/",
        route_handlers=[FollowupController],
        dependencies={"deps": Provide(lambda: deps, sync_to_thread=False)},
    )
