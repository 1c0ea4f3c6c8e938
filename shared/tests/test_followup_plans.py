"""A campaign's follow-up plan as written: defaults, canonical form, the first problem named."""

from datetime import timedelta

import pytest

from disparo_shared.followup_plans import (
    FIRST_CONTACT_TEXTS,
    MAX_PLAN_FOLLOWUPS,
    FollowupPlan,
    PlanError,
    followup_text_problem,
    parse_followup_plan,
)


def test_the_default_texts_cover_the_largest_plan_and_never_repeat() -> None:
    assert len(FIRST_CONTACT_TEXTS) == MAX_PLAN_FOLLOWUPS
    plan = parse_followup_plan({"max": MAX_PLAN_FOLLOWUPS})
    assert plan is not None and plan.texts == [list(v) for v in FIRST_CONTACT_TEXTS]
    seen: set[str] = set()
    for variants in FIRST_CONTACT_TEXTS:
        assert all(followup_text_problem(text) is None for text in variants)
        assert not seen & set(variants)
        seen |= set(variants)


def test_a_plan_left_empty_is_the_spec_rule_and_reads_back_as_written() -> None:
    plan = parse_followup_plan({})
    assert plan == FollowupPlan(
        mode="own",
        delay="3d",
        max_followups=2,
        texts=[list(v) for v in FIRST_CONTACT_TEXTS[:2]],
    )
    assert plan.as_request() == {"delay": "3d", "max": 2, "texts": plan.texts}
    assert parse_followup_plan(None) is None
    assert parse_followup_plan("none") == FollowupPlan(mode="none")


def test_the_shortest_delay_is_a_parameter_for_test_stacks() -> None:
    with pytest.raises(PlanError) as refused:
        parse_followup_plan({"delay": "2s"})
    assert (refused.value.field, refused.value.reason) == (
        "delay",
        "at least 30m after our last message",
    )
    plan = parse_followup_plan({"delay": "2s"}, min_delay=timedelta(seconds=1))
    assert plan is not None and plan.delay == "2s"


def test_an_absurd_delay_is_a_plan_error_not_a_crash() -> None:
    with pytest.raises(PlanError) as refused:
        parse_followup_plan({"delay": "99999999999d"})
    assert refused.value.field == "delay" and "longer than any calendar" in refused.value.reason
