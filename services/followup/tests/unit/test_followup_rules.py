"""The cadence rules, the daily schedule, the texts and the settings, with an injected clock."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from disparo_followup.job import FollowupSummary
from disparo_followup.rules import DEFAULT_RULES, ConversationState, due_followup
from disparo_followup.schedule import latest_slot, next_run_at
from disparo_followup.settings import FollowupSettings
from disparo_followup.slack import post_summary, summary_text
from disparo_followup.texts import render, unknown_placeholders
from disparo_shared.events import Controller, ConversationStage

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")

WAITING = ConversationState(
    stage=ConversationStage.FIRST_CONTACT,
    controlled_by=Controller.AI,
    last_outbound_at=T0,
    last_inbound_at=None,
    followups_in_stage=0,
    last_followup_requested_at=None,
    opted_out=False,
)


def test_first_contact_is_due_three_days_after_our_last_message() -> None:
    assert (
        due_followup(WAITING, DEFAULT_RULES, T0 + timedelta(days=3) - timedelta(seconds=1)) is None
    )
    assert due_followup(WAITING, DEFAULT_RULES, T0 + timedelta(days=3)) == 1


def test_first_contact_gets_at_most_two_followups() -> None:
    second = replace(
        WAITING, followups_in_stage=1, last_followup_requested_at=T0 - timedelta(seconds=5)
    )
    assert due_followup(second, DEFAULT_RULES, T0 + timedelta(days=3)) == 2
    third = replace(
        WAITING, followups_in_stage=2, last_followup_requested_at=T0 - timedelta(seconds=5)
    )
    assert due_followup(third, DEFAULT_RULES, T0 + timedelta(days=30)) is None


@pytest.mark.parametrize(
    ("stage", "delay", "cap"),
    [
        (ConversationStage.INTERESTED, timedelta(days=1), 1),
        (ConversationStage.OFFER_MADE, timedelta(days=2), 1),
    ],
)
def test_each_stage_has_its_own_delay_and_cap(
    stage: ConversationStage, delay: timedelta, cap: int
) -> None:
    state = replace(WAITING, stage=stage)
    assert due_followup(state, DEFAULT_RULES, T0 + delay - timedelta(minutes=1)) is None
    assert due_followup(state, DEFAULT_RULES, T0 + delay) == 1
    capped = replace(state, followups_in_stage=cap)
    assert due_followup(capped, DEFAULT_RULES, T0 + 10 * delay) is None


def test_a_reply_stops_the_cadence_until_we_write_again() -> None:
    replied = replace(WAITING, last_inbound_at=T0 + timedelta(hours=1))
    assert due_followup(replied, DEFAULT_RULES, T0 + timedelta(days=10)) is None
    wrote_again = replace(replied, last_outbound_at=T0 + timedelta(hours=2))
    assert due_followup(wrote_again, DEFAULT_RULES, T0 + timedelta(days=10)) == 1


def test_a_human_in_control_an_opt_out_or_no_phone_means_no_followup() -> None:
    later = T0 + timedelta(days=10)
    assert (
        due_followup(replace(WAITING, controlled_by=Controller.HUMAN), DEFAULT_RULES, later) is None
    )
    assert due_followup(replace(WAITING, opted_out=True), DEFAULT_RULES, later) is None
    assert due_followup(replace(WAITING, has_phone=False), DEFAULT_RULES, later) is None
    assert due_followup(replace(WAITING, stage=None), DEFAULT_RULES, later) is None
    assert due_followup(replace(WAITING, last_outbound_at=None), DEFAULT_RULES, later) is None


def test_a_followup_not_yet_sent_blocks_the_next() -> None:
    pending = replace(
        WAITING, followups_in_stage=1, last_followup_requested_at=T0 + timedelta(days=3)
    )
    assert due_followup(pending, DEFAULT_RULES, T0 + timedelta(days=30)) is None


def test_rules_are_configurable() -> None:
    settings = FollowupSettings(rules={"first_contact": {"delay_hours": 1, "max_followups": 5}})
    rules = settings.followup_rules()
    assert rules[ConversationStage.FIRST_CONTACT].delay == timedelta(hours=1)
    assert rules[ConversationStage.INTERESTED] == DEFAULT_RULES[ConversationStage.INTERESTED]
    assert due_followup(replace(WAITING, followups_in_stage=4), rules, T0 + timedelta(hours=1)) == 5


def test_the_daily_slot_is_ten_in_sao_paulo() -> None:
    nine_local = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # UTC-3
    assert next_run_at(nine_local, time(10), SAO_PAULO) == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    eleven_local = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert next_run_at(eleven_local, time(10), SAO_PAULO) == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert latest_slot(eleven_local, time(10), SAO_PAULO) == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert latest_slot(nine_local, time(10), SAO_PAULO) == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    exactly = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert latest_slot(exactly, time(10), SAO_PAULO) == exactly


def test_texts_render_the_first_name_and_nothing_else() -> None:
    text = "Oi {nome}, tudo bem? {0.__class__} {x}"
    assert render(text, "Maria Souza") == "Oi Maria, tudo bem? {0.__class__} {x}"
    assert render("Oi {nome}, tudo bem?", None) == "Oi, tudo bem?"
    assert unknown_placeholders(text) == ["{0.__class__}", "{x}"]


def test_a_text_with_an_unknown_placeholder_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown placeholders"):
        FollowupSettings(texts={"interested": "Oi {name}"})


async def test_slack_summary_is_posted_and_failures_do_not_leak_the_url(capsys) -> None:
    posted: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200, text="ok")

    summary = FollowupSummary(
        ran_at=T0, requested=3, by_stage={"first_contact": 2, "interested": 1}
    )
    url = SecretStr("https://hooks.slack.test/services/T000/B000/secret")
    async with httpx.AsyncClient(transport=httpx.MockTransport(accept)) as client:
        assert await post_summary(client, url, summary)
    assert b"3 solicitados (first_contact: 2, interested: 1)" in posted[0].content

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("unreachable", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        assert not await post_summary(client, url, summary)
    captured = capsys.readouterr()
    assert "secret" not in captured.out + captured.err
    assert summary_text(FollowupSummary(ran_at=T0, requested=0)).endswith(
        "nenhum follow-up devido."
    )
