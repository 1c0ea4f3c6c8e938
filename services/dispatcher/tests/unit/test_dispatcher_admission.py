"""Send-time checks on a claimed message, with explicit instants."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

from disparo_dispatcher.admission import AdmissionRules, admit
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.quiet_hours import SendWindow, campaign_window

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 12:00 in São Paulo
TODAY = date(2026, 11, 25)
RULES = AdmissionRules(
    pair_spacing_seconds=6.0,
    recipient_campaign_max_per_day=2,
    window=SendWindow(time(8), time(20), frozenset(range(6))),
    quiet_hours_exempt_kinds=frozenset({"reply"}),
    day_zone="America/Sao_Paulo",
)
BASE = ClaimedMessage(
    message_id=uuid4(),
    phone="+5511987654321",
    body="Oi",
    kind="campaign",
    priority=5,
    campaign_id=uuid4(),
    contact_id=None,
    conversation_id=None,
    sender_id="s1",
    attempt=3,
    max_attempts=5,
    time_zone="America/Sao_Paulo",
    rank_at=NOW,
    enqueued_at=NOW,
    last_sent_at=None,
    campaign_day=None,
    campaign_sent_on_day=0,
    opted_out=False,
    campaign_status="running",
    campaign_max_per_day=None,
)


def test_a_message_with_no_limit_in_the_way_goes_now():
    assert admit(BASE, NOW, TODAY, RULES, None) is None


def test_an_opted_out_recipient_is_never_sent_to():
    wait = admit(replace(BASE, opted_out=True), NOW, TODAY, RULES, None)
    assert wait.settlement.state == "cancelled" and wait.publish_failure


def test_a_paused_campaign_holds_without_spending_the_attempt():
    wait = admit(replace(BASE, campaign_status="paused"), NOW, TODAY, RULES, None)
    assert wait.settlement.state == "held" and wait.settlement.attempt_change == -1


def test_quiet_hours_wait_for_the_window_and_move_back_in_line():
    night = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 20:30 in São Paulo
    wait = admit(BASE, night, TODAY, RULES, None)
    opens = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    assert wait.limit == "quiet_hours" and wait.settlement.due_at == opens
    assert wait.settlement.rank_shift == opens - night and wait.settlement.attempt_change == -1


def test_a_campaign_waits_for_its_own_window_inside_quiet_hours():
    # Mornings only, Monday to Friday: at 12:00 on a Wednesday it waits for Thursday 09:00.
    mornings = campaign_window(9, 12, (1, 2, 3, 4, 5), "America/Sao_Paulo")
    wait = admit(replace(BASE, campaign_window=mornings), NOW, TODAY, RULES, None)
    opens = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert wait.limit == "campaign_window" and wait.settlement.due_at == opens
    assert wait.settlement.attempt_change == -1
    at_ten = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # Thursday 10:00 in São Paulo
    assert admit(replace(BASE, campaign_window=mornings), at_ten, TODAY, RULES, None) is None


def test_a_window_until_midnight_stays_open_to_the_end_of_the_day():
    evenings = campaign_window(18, 24, (3,), "America/Sao_Paulo")  # Wednesdays 18:00–24:00
    late = datetime(2026, 11, 26, 2, 59, tzinfo=UTC)  # Wednesday 23:59 in São Paulo
    message = replace(BASE, kind="reply", campaign_window=evenings)  # exempt from quiet hours
    assert admit(message, late, TODAY, RULES, None) is None


def test_a_reply_is_sent_at_night():
    night = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert admit(replace(BASE, kind="reply"), night, TODAY, RULES, None) is None


def test_pair_spacing_counts_the_latest_of_stored_and_local_sends():
    stored = NOW - timedelta(seconds=10)
    here = NOW - timedelta(seconds=2)
    wait = admit(replace(BASE, last_sent_at=stored), NOW, TODAY, RULES, here)
    assert wait.limit == "pair_spacing" and wait.settlement.due_at == here + timedelta(seconds=6)
    assert admit(replace(BASE, last_sent_at=stored), NOW, TODAY, RULES, None) is None


def test_a_recipient_gets_at_most_n_campaign_messages_a_day():
    full = replace(BASE, campaign_day=TODAY, campaign_sent_on_day=2)
    wait = admit(full, NOW, TODAY, RULES, None)
    assert wait.limit == "recipient_daily"
    assert wait.settlement.due_at == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # local midnight
    assert admit(replace(full, kind="followup"), NOW, TODAY, RULES, None) is None
    assert (
        admit(replace(full, campaign_day=TODAY - timedelta(days=1)), NOW, TODAY, RULES, None)
        is None
    )
