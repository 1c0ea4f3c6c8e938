"""The cadence rules, the daily schedule, the texts and the settings, with an injected clock."""

import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from disparo_followup.job import FollowupSummary, RuleOutcome
from disparo_followup.rule_sets import parse_rules, rules_json
from disparo_followup.rules import DEFAULT_RULES, ConversationState, due_followup
from disparo_followup.schedule import latest_slot, next_run_at
from disparo_followup.settings import FollowupSettings
from disparo_followup.slack import post_summary, summary_text
from disparo_followup.texts import DEFAULT_TEXTS, pick_variant, render, text_problem
from disparo_shared.durations import InvalidDuration, format_duration, parse_duration
from disparo_shared.events import Controller, ConversationStage
from disparo_shared.problems import Problem

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")

WAITING = ConversationState(
    stage=ConversationStage.PRIMEIRO_CONTATO,
    controlled_by=Controller.AUTOMATION,
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
        (ConversationStage.POS_INTERESSE, timedelta(days=1), 1),
        (ConversationStage.POS_OFERTA, timedelta(days=2), 1),
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
    # the recruiter system's older stage words still name the stages
    settings = FollowupSettings(rules={"first_contact": {"delay": "PT1H", "max_followups": 5}})
    rules = settings.followup_rules()
    assert rules[ConversationStage.PRIMEIRO_CONTATO].delay == timedelta(hours=1)
    assert rules[ConversationStage.POS_INTERESSE] == DEFAULT_RULES[ConversationStage.POS_INTERESSE]
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


def test_placeholders_mean_what_they_mean_in_campaigns() -> None:
    text = "Oi {primeiro_nome}! {nome}, {{literal}}"
    assert render(text, "Maria  Souza") == "Oi Maria! Maria Souza, {literal}"
    assert render("Oi {nome}, tudo bem?", None) == "Oi Dr(a)., tudo bem?"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Oi {nome", "position 4: a { that is never closed"),
        ("Oi nome}", "position 8: a } that closes nothing"),
        ("Oi {}", "position 4: an empty placeholder"),
        ("Oi {0.__class__}", "position 4: unknown placeholder"),
        ("Oi {x{nome}}", "position 6: a placeholder inside the placeholder opened at position 4"),
        ("Oi\x07 {nome}", "position 3: control character U+0007"),
        ("   ", "position 1: the text is blank"),
    ],
)
def test_a_bad_text_is_refused_at_its_position(text: str, reason: str) -> None:
    """The shared template syntax, positions 1-based as an editor's column."""
    problem = text_problem(text)
    assert problem is not None
    assert reason in problem


def test_every_default_text_is_valid_and_no_attempt_repeats_another() -> None:
    for stage, attempts in DEFAULT_TEXTS.items():
        seen: set[str] = set()
        for variants in attempts:
            assert len(variants) >= 2, stage
            for text in variants:
                assert text_problem(text) is None, text
            assert not seen & set(variants)
            seen |= set(variants)


def test_a_conversation_gets_the_same_variant_every_time_and_doctors_differ() -> None:
    variants = DEFAULT_TEXTS[ConversationStage.PRIMEIRO_CONTATO][0]
    conversation = uuid4()
    assert pick_variant(variants, conversation, 1) == pick_variant(variants, conversation, 1)
    picked = {pick_variant(variants, uuid4(), 1) for _ in range(60)}
    assert picked == set(variants)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("36h", timedelta(hours=36)),
        ("1d12h", timedelta(hours=36)),
        ("PT30M", timedelta(minutes=30)),
        ("P1DT12H", timedelta(hours=36)),
        ("2s", timedelta(seconds=2)),
    ],
)
def test_delays_are_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "3", "3 days", "P1M", "0h", "PT", "-1d"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(InvalidDuration):
        parse_duration(text)


def test_a_bad_delay_in_the_settings_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        FollowupSettings(rules={"pos_interesse": {"delay": "amanhã", "max_followups": 1}})


async def test_slack_summary_is_posted_and_failures_do_not_leak_the_url(capsys) -> None:
    posted: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200, text="ok")

    summary = FollowupSummary(
        ran_at=T0,
        requested=3,
        by_stage={"primeiro_contato": 2, "pos_interesse": 1},
        by_rule={
            "padrao/primeiro_contato": RuleOutcome(2, {"replied": 4, "taken_over": 1}),
            "padrao/pos_interesse": RuleOutcome(1, {}),
        },
    )
    url = SecretStr("https://hooks.slack.test/services/T000/B000/secret")
    async with httpx.AsyncClient(transport=httpx.MockTransport(accept)) as client:
        assert await post_summary(client, url, summary)
    text = json.loads(posted[0].content)["text"]
    assert text.splitlines() == [
        "Follow-ups de 02/03/2026: 3 solicitados",
        "• padrao/pos_interesse: 1 agendados",
        "• padrao/primeiro_contato: 2 agendados; pulados: 4 responderam, 1 com um humano",
    ]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("unreachable", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        assert not await post_summary(client, url, summary)
    captured = capsys.readouterr()
    assert "secret" not in captured.out + captured.err
    assert summary_text(FollowupSummary(ran_at=T0, requested=0)).endswith(
        "nenhum follow-up devido."
    )


def _rules(**stage) -> dict:
    return {"pos_oferta": {"delay": "2d", "max_followups": 1, "texts": [["Oi {nome}!"]], **stage}}


@pytest.mark.parametrize(
    ("rules", "field", "reason"),
    [
        ({"talvez": {}}, "rules.talvez", "not a stage"),
        ({"encerrada": {}}, "rules.encerrada", "closed"),
        (_rules(delay="amanhã"), "rules.pos_oferta.delay", "not a duration"),
        (_rules(max_followups=-1), "rules.pos_oferta.max_followups", "whole number"),
        (_rules(max_followups=2), "rules.pos_oferta.texts", "each of the 2 follow-ups"),
        (_rules(texts=[["Oi {nome"]]), "rules.pos_oferta.texts[0][0]", "position 4: a { that"),
        (_rules(texts=[[]]), "rules.pos_oferta.texts[0]", "non-empty"),
        (
            _rules(max_followups=2, texts=[["Oi {nome}!"], ["Olá", "Oi {nome}!"]]),
            "rules.pos_oferta.texts[1][1]",
            "repeats a text of follow-up 1",
        ),
        (_rules(extra=1), "rules.pos_oferta.extra", "unknown field"),
    ],
)
def test_a_bad_rule_set_is_refused_naming_the_field(rules: dict, field: str, reason: str) -> None:
    with pytest.raises(Problem) as refused:
        parse_rules(rules)
    [error] = refused.value.errors
    assert error["field"] == field
    assert reason in error["reason"]


def test_a_rule_set_reads_back_as_it_was_written() -> None:
    written = rules_json(DEFAULT_RULES)
    assert parse_rules(written) == dict(DEFAULT_RULES)
    assert written["primeiro_contato"]["delay"] == "3d"
    assert parse_rules({"primeiro_contato": {"delay": "PT2S", "max_followups": 0, "texts": []}})[
        ConversationStage.PRIMEIRO_CONTATO
    ].delay == timedelta(seconds=2)
