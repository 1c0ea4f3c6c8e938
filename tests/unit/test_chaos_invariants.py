"""The chaos run's invariants fail when given a violation, and hold for a clean run."""

from disparo.chaos.invariants import (
    CampaignTruth,
    Evidence,
    QueuedMessage,
    SimSend,
    check,
    tally,
)

CAMPAIGN = "c0000000-0000-0000-0000-000000000001"


def _queued(phone: str, state: str = "sent", kind: str = "campaign", held: bool = False):
    return QueuedMessage(kind, CAMPAIGN if kind == "campaign" else None, phone, state, held)


def _evidence(
    sends, queue, *, reported=None, refused=0, stuck=None, audience=None, resent=frozenset()
) -> Evidence:
    sent_ids = {s.message_id for s in sends}
    truth = {
        "sent": sum(
            1
            for m in queue
            if m in sent_ids and queue[m].campaign_id == CAMPAIGN and not queue[m].held_in_doubt
        ),
        "dead": sum(1 for q in queue.values() if q.state == "dead"),
        "in_doubt": sum(1 for q in queue.values() if q.held_in_doubt),
        "replied": 0,
    }
    campaign_rows = sum(1 for q in queue.values() if q.campaign_id == CAMPAIGN)
    return Evidence(
        sends=sends,
        queue=queue,
        campaigns=[
            CampaignTruth(
                CAMPAIGN,
                campaign_rows if audience is None else audience,
                0,
                truth if reported is None else reported,
            )
        ],
        rate_per_second=2,
        pair_spacing_seconds=6.0,
        refused_for_limits=refused,
        max_followups_per_doctor=1,
        stuck=stuck or {},
        resent_by_policy=frozenset(resent),
    )


def _verdicts(evidence: Evidence) -> dict[str, tuple[bool, str]]:
    return {v.name: (v.ok, v.figure) for v in check(evidence)}


CLEAN_QUEUE = {"m1": _queued("+5511900000001"), "m2": _queued("+5511900000002")}
CLEAN_SENDS = [
    SimSend("m1", "sim-evolution-1", "5511900000001", 100.0),
    SimSend("m2", "sim-evolution-1", "5511900000002", 100.6),
]


def test_a_clean_run_holds_every_invariant():
    verdicts = _verdicts(_evidence(CLEAN_SENDS, CLEAN_QUEUE))
    assert all(ok for ok, _ in verdicts.values()), verdicts
    assert set(verdicts) == {
        "sent once",
        "one per doctor",
        "nothing lost",
        "limits held",
        "reports converged",
        "nothing stuck",
    }


def test_a_message_accepted_twice_breaks_sent_once():
    sends = [*CLEAN_SENDS, SimSend("m1", "sim-evolution-2", "5511900000001", 110.0)]
    verdicts = _verdicts(_evidence(sends, CLEAN_QUEUE))
    assert verdicts["sent once"] == (False, "1 message(s) sent twice (1 extra send(s))")
    assert tally(_evidence(sends, CLEAN_QUEUE)).sent_twice == 1


def test_a_doctor_given_a_campaign_twice_under_two_ids_is_caught():
    queue = {**CLEAN_QUEUE, "m3": _queued("+5511900000001")}
    sends = [*CLEAN_SENDS, SimSend("m3", "sim-evolution-2", "5511900000001", 110.0)]
    ok, figure = _verdicts(_evidence(sends, queue))["one per doctor"]
    assert not ok and "1 doctor(s) got a campaign's message twice" in figure


def test_more_follow_ups_than_the_rule_allows_are_caught():
    queue = {
        **CLEAN_QUEUE,
        "f1": _queued("+5511900000001", kind="followup"),
        "f2": _queued("+5511900000001", kind="followup"),
    }
    sends = [
        *CLEAN_SENDS,
        SimSend("f1", "sim-evolution-1", "5511900000001", 120.0),
        SimSend("f2", "sim-evolution-1", "5511900000001", 130.0),
    ]
    ok, figure = _verdicts(_evidence(sends, queue))["one per doctor"]
    assert not ok and "more than 1 follow-up" in figure


def test_a_message_the_queue_calls_sent_but_the_simulator_never_got_is_lost():
    sends = CLEAN_SENDS[:1]
    ok, figure = _verdicts(_evidence(sends, CLEAN_QUEUE))["nothing lost"]
    assert not ok and figure == "1 not sent (sent: 1)"


def test_dead_cancelled_and_held_in_doubt_are_not_lost():
    queue = {
        **CLEAN_QUEUE,
        "m3": _queued("+5511900000003", state="dead"),
        "m4": _queued("+5511900000004", state="cancelled"),
        "m5": _queued("+5511900000005", state="in_doubt", held=True),
    }
    evidence = _evidence(CLEAN_SENDS, queue)
    assert _verdicts(evidence)["nothing lost"][0]
    assert tally(evidence).held_in_doubt == 1


def test_recipients_that_never_reached_the_queue_and_sends_nobody_asked_for_are_lost():
    sends = [*CLEAN_SENDS, SimSend("stranger", "sim-evolution-1", "5511900000009", 105.0)]
    ok, figure = _verdicts(_evidence(sends, CLEAN_QUEUE, audience=3))["nothing lost"]
    assert not ok
    assert "1 recipient(s) never reached the queue" in figure
    assert "1 send(s) nobody asked for" in figure


def test_a_number_above_its_rate_or_a_pair_too_close_breaks_the_limits():
    queue = {f"m{i}": _queued(f"+551190000000{i}") for i in range(3)}
    sends = [
        SimSend(f"m{i}", "sim-evolution-1", f"551190000000{i}", 100.0 + i * 0.1) for i in range(3)
    ]
    ok, figure = _verdicts(_evidence(sends, queue))["limits held"]
    assert not ok and "1 number(s) above 2/s" in figure

    queue = {"a": _queued("+5511900000001"), "b": _queued("+5511900000001", kind="reply")}
    sends = [
        SimSend("a", "sim-evolution-1", "5511900000001", 100.0),
        SimSend("b", "sim-evolution-1", "5511900000001", 102.0),
    ]
    ok, figure = _verdicts(_evidence(sends, queue))["limits held"]
    assert not ok and "a pair 2.00s apart" in figure


def test_a_request_the_simulator_refused_for_a_limit_breaks_the_limits():
    ok, figure = _verdicts(_evidence(CLEAN_SENDS, CLEAN_QUEUE, refused=1))["limits held"]
    assert not ok and "1 request(s) refused for a limit" in figure


def test_a_report_that_differs_from_the_simulator_has_not_converged():
    reported = {"sent": 1, "dead": 0, "replied": 0}
    ok, figure = _verdicts(_evidence(CLEAN_SENDS, CLEAN_QUEUE, reported=reported))[
        "reports converged"
    ]
    assert not ok and "sent 1 ≠ 2" in figure


def test_anything_left_in_an_outbox_or_a_consumer_is_stuck():
    stuck = {"outbox events": 3, "consumer events pending": 0}
    ok, figure = _verdicts(_evidence(CLEAN_SENDS, CLEAN_QUEUE, stuck=stuck))["nothing stuck"]
    assert not ok and figure == "outbox events: 3"


def test_a_reply_the_at_least_once_policy_resent_may_arrive_twice_and_is_counted_apart():
    queue = {**CLEAN_QUEUE, "r1": _queued("+5511900000003", kind="reply")}
    sends = [
        *CLEAN_SENDS,
        SimSend("r1", "sim-cloud-1", "5511900000003", 101.0),
        SimSend("r1", "sim-cloud-1", "5511900000003", 110.0),
    ]
    evidence = _evidence(sends, queue, resent={"r1"})
    ok, figure = _verdicts(evidence)["sent once"]
    assert ok and "1 reply(s) twice by the at-least-once policy" in figure
    assert (tally(evidence).sent_twice, tally(evidence).twice_by_policy) == (0, 1)
    # without the policy's word, the same log is a duplicate
    assert not _verdicts(_evidence(sends, queue))["sent once"][0]


def test_a_held_send_the_provider_took_is_reported_as_held_not_as_sent():
    queue = {**CLEAN_QUEUE, "m3": _queued("+5511900000003", state="in_doubt", held=True)}
    sends = [*CLEAN_SENDS, SimSend("m3", "sim-cloud-1", "5511900000003", 101.0)]
    right = {"sent": 2, "dead": 0, "in_doubt": 1, "replied": 0}
    assert _verdicts(_evidence(sends, queue, reported=right))["reports converged"][0]
    uncounted = {"sent": 2, "dead": 0, "in_doubt": 0, "replied": 0}
    ok, figure = _verdicts(_evidence(sends, queue, reported=uncounted))["reports converged"]
    assert not ok and "in_doubt 0 ≠ 1" in figure
