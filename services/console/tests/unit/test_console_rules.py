"""Login limit, roles, template error marks, the funnel: the console's pure rules."""

from datetime import UTC, datetime, timedelta

from disparo_console.auth.login_limit import RecentFailures, retry_after
from disparo_console.auth.roles import Permission, may
from disparo_console.funnel import build_funnel, report_from_summary
from disparo_console.template_marks import mark_unknown

NOW = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def test_fifth_failure_of_a_user_makes_the_next_login_wait_until_the_first_leaves_the_window():
    failures = RecentFailures(5, 5, NOW - timedelta(minutes=10), NOW - timedelta(minutes=10))
    assert retry_after(failures, NOW, WINDOW, 5, 20) == timedelta(minutes=5)
    assert retry_after(RecentFailures(4, 4, NOW, NOW), NOW, WINDOW, 5, 20) is None


def test_many_failures_from_one_address_hold_every_user_name_from_it():
    failures = RecentFailures(0, 20, None, NOW - timedelta(minutes=1))
    assert retry_after(failures, NOW, WINDOW, 5, 20) == timedelta(minutes=14)


def test_roles_grow_from_viewer_to_admin():
    assert may("viewer", Permission.READ)
    assert not may("viewer", Permission.RUN_CAMPAIGNS)
    assert may("recruiter", Permission.RUN_CAMPAIGNS)
    assert not may("recruiter", Permission.MANAGE_USERS)
    assert may("admin", Permission.MANAGE_USERS)
    assert may("admin", Permission.SEE_PHONES) and not may("recruiter", Permission.SEE_PHONES)
    assert not may("intruder", Permission.READ)


def test_unknown_placeholders_are_marked_where_they_stand():
    marks = mark_unknown(
        "Olá {nme}, plantão em {regiao} {nme}",
        ["unknown placeholder {nme}; allowed: {nome}, {regiao}"],
    )
    assert marks == [
        ("Olá ", False), ("{nme}", True), (", plantão em {regiao} ", False), ("{nme}", True)
    ]  # fmt: skip
    assert mark_unknown("Olá", ["must not be empty"]) == [("Olá", False)]


def test_the_funnel_leads_with_replies_and_measures_shares_of_the_audience():
    report = {
        "funnel": {"requested": 100, "pending": 100, "sent": 800, "delivered": 600, "read": 300,
                   "replied": 45, "dead": 0, "targeted": 1000},
        "response_rate": 0.0563,
    }  # fmt: skip
    funnel = build_funnel({"audience_size": 1000}, report)
    counts = {step.key: (step.count, step.share) for step in funnel.steps}
    assert counts["queued"] == (200, 0.2)
    assert counts["sent"] == (800, 0.8)
    assert funnel.replied == 45
    assert funnel.progress == 0.8


def test_a_draft_has_a_funnel_of_nothing_and_no_shares():
    funnel = build_funnel({"audience_size": None}, None)
    assert funnel.audience is None
    assert all(step.count == 0 and step.share is None for step in funnel.steps)


def test_an_overview_row_gives_the_lists_funnel():
    summary = {"size": 200, "sent": 150, "delivered": 140, "read": 90, "replied": 30, "dead": 10,
               "reply_rate": 0.2}  # fmt: skip
    funnel = build_funnel({"audience_size": 200}, report_from_summary(summary))
    assert funnel.replied == 30
    assert funnel.response_rate == 0.2
    assert funnel.progress == 0.8  # 150 sent and 10 dead of 200
