"""How many messages a claim asks for, per sender: a pure rule over the held senders' slots."""

from datetime import date

from disparo_dispatcher.claiming import claim_sizes
from disparo_dispatcher.rate_limits import SendRateLimiter
from disparo_dispatcher.senders import Sender
from disparo_dispatcher.slots import ACTIVE, DRAINING, STOPPED, SenderSlot

NOW = 100.0  # monotonic
LOOKAHEAD = 0.2


def slot(
    sender_id: str,
    rate: int = 80,
    buffered: int = 0,
    cap_today: int | None = None,
    sent_today: int = 0,
    state: str = ACTIVE,
    lease_deadline: float = NOW + 30,
) -> SenderSlot:
    sender = Sender(
        sender_id=sender_id,
        provider="evolution",
        address=sender_id,
        base_url="http://provider.invalid",
        credential_ref="env:TOKEN",
        rate_per_second=rate,
        daily_limit=cap_today,
        warmup_started_on=None,
        status="active",
        paused_until=None,
        pause_reason=None,
        lease_owner="replica-a",
        lease_until=None,
    )
    held = SenderSlot(
        sender=sender,
        provider=None,  # type: ignore[arg-type]
        account=None,
        limiter=SendRateLimiter(rate),
        day=date(2026, 12, 7),
        sent_today=sent_today,
        cap_today=cap_today,
        lease_deadline=lease_deadline,
        state=state,
    )
    held.buffer = [object()] * buffered  # only its length counts here
    return held


def sizes(*slots: SenderSlot, batch_max: int = 4000) -> dict[str, int]:
    return claim_sizes({s.sender_id: s for s in slots}, NOW, LOOKAHEAD, batch_max)


def test_a_sender_asks_for_what_it_can_send_in_the_lookahead_less_its_buffer():
    assert sizes(slot("a", rate=80), slot("b", rate=80, buffered=10)) == {"a": 16, "b": 6}


def test_a_slow_sender_still_asks_for_one():
    assert sizes(slot("a", rate=1)) == {"a": 1}


def test_a_full_buffer_or_a_spent_daily_cap_asks_for_nothing_and_is_not_probed():
    assert sizes(
        slot("full", buffered=16),
        slot("capped", cap_today=250, sent_today=245),
        slot("spent", cap_today=250, sent_today=250),
    ) == {"capped": 5}


def test_only_active_senders_whose_lease_holds_ask():
    assert sizes(
        slot("a"),
        slot("draining", state=DRAINING),
        slot("stopped", state=STOPPED),
        slot("lease ran out", lease_deadline=NOW),
    ) == {"a": 16}


def test_past_the_batch_maximum_senders_share_it_in_proportion_at_least_one_each():
    fast = [slot(f"fast{i}", rate=500) for i in range(10)]  # 100 each
    asked = sizes(*fast, slot("slow", rate=5), batch_max=200)  # 1,001 wanted
    assert asked == {**{f"fast{i}": 19 for i in range(10)}, "slow": 1}
    assert sum(asked.values()) <= 200


def test_within_the_batch_maximum_nothing_is_scaled():
    asked = sizes(*[slot(f"n{i}") for i in range(50)], batch_max=800)  # exactly 50 × 16
    assert set(asked.values()) == {16}
