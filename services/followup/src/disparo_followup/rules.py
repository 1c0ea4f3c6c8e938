"""When a conversation is due a follow-up: the spec's cadence per stage, as pure functions.

A conversation is due when the last message was ours, the stage's delay has passed since it,
the stage's cap is not reached, no earlier follow-up is still waiting to go out, the contact
has not opted out, and automation (not a human) controls it. ``encerrada`` has no rule: a
closed conversation gets nothing. A reply stops the cadence
until we write again.

With the defaults, a first contact sent Monday 10:00 and left unanswered gets its first
follow-up from Thursday 10:00 (3 days), the second from the Sunday after that follow-up went
out, and no third. ``due_followup`` is the reference the job's SQL (``sql/followups.sql``)
implements set-based; ``tests`` check both agree.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from disparo_followup.step_templates import StepTemplate
from disparo_followup.texts import DEFAULT_TEXTS
from disparo_shared.events import Controller, ConversationStage


@dataclass(frozen=True)
class FollowupRule:
    """The cadence of one stage: wait ``delay`` after our last message, at most
    ``max_followups``; attempt n says one of ``texts[n - 1]`` (its variants), or, to a doctor
    outside the Cloud API window, the stage's ``template`` (``step_templates``)."""

    stage: ConversationStage
    delay: timedelta
    max_followups: int
    texts: tuple[tuple[str, ...], ...] = ()
    template: StepTemplate | None = None  # for doctors outside the Cloud 24 h window

    def variants(self, attempt: int) -> tuple[str, ...]:
        """The texts of follow-up number ``attempt`` (1-based); past the last, the last."""
        return self.texts[min(attempt, len(self.texts)) - 1]


DEFAULT_RULES: Mapping[ConversationStage, FollowupRule] = {
    rule.stage: rule
    for rule in (
        FollowupRule(
            ConversationStage.PRIMEIRO_CONTATO,
            timedelta(days=3),
            2,
            DEFAULT_TEXTS[ConversationStage.PRIMEIRO_CONTATO],
        ),
        FollowupRule(
            ConversationStage.POS_INTERESSE,
            timedelta(days=1),
            1,
            DEFAULT_TEXTS[ConversationStage.POS_INTERESSE],
        ),
        FollowupRule(
            ConversationStage.POS_OFERTA,
            timedelta(days=2),
            1,
            DEFAULT_TEXTS[ConversationStage.POS_OFERTA],
        ),
    )
}


@dataclass(frozen=True)
class ConversationState:
    """What followup knows of one conversation when the job runs."""

    stage: ConversationStage | None
    controlled_by: Controller | None
    last_outbound_at: datetime | None
    last_inbound_at: datetime | None
    followups_in_stage: int
    last_followup_requested_at: datetime | None
    opted_out: bool
    has_phone: bool = True


def due_followup(
    state: ConversationState, rules: Mapping[ConversationStage, FollowupRule], now: datetime
) -> int | None:
    """The number (1, 2, …) of the follow-up due now in the current stage, or None."""
    if state.stage is None or state.stage not in rules:
        return None
    rule = rules[state.stage]
    if state.controlled_by != Controller.AUTOMATION or state.opted_out or not state.has_phone:
        return None
    if state.last_outbound_at is None:
        return None  # we never wrote: nothing to follow up
    if state.last_inbound_at is not None and state.last_inbound_at >= state.last_outbound_at:
        return None  # they answered: the cadence stops until we write again
    if (
        state.last_followup_requested_at is not None
        and state.last_followup_requested_at > state.last_outbound_at
    ):
        return None  # the previous follow-up has not gone out yet
    if state.followups_in_stage >= rule.max_followups:
        return None
    if now - state.last_outbound_at < rule.delay:
        return None
    return state.followups_in_stage + 1
