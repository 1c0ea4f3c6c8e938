"""The portfolio messaging tier, held at claim against the real tables with an injected clock:
two numbers of one portfolio at the 250 tier reach 250 distinct doctors in any rolling 24 h,
together and no more; replies (free text inside the window) never wait for it; a RED number
takes no campaign message but still sends replies."""

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

from disparo_dispatcher.admission import AdmissionRules
from disparo_dispatcher.claiming import Claimer
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.quiet_hours import SendWindow
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.results import Results
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALWAYS = SendWindow(time(0), time(23, 59, 59), frozenset(range(7)))


def claimed(phone: str, sender_id: str, *, as_template: bool, kind="campaign", quality="GREEN"):
    return ClaimedMessage(
        message_id=uuid4(),
        phone=phone,
        body="Oi",
        kind=kind,
        priority=5,
        campaign_id=None,
        contact_id=None,
        conversation_id=None,
        sender_id=sender_id,
        attempt=1,
        max_attempts=5,
        time_zone="America/Sao_Paulo",
        rank_at=START,
        enqueued_at=START,
        last_sent_at=None,
        campaign_day=None,
        campaign_sent_on_day=0,
        opted_out=False,
        campaign_status=None,
        campaign_max_per_day=None,
        as_template=as_template,
        sender_quality=quality,
        portfolio="portfolio-1",
    )


def doctor(n: int) -> str:
    return f"+55119{n:08d}"


class Harness:
    def __init__(self, pool) -> None:
        self.pool = pool
        self.results = Results(1000)
        self.claimer = Claimer(
            DispatcherSettings(),
            "replica-1",
            AdmissionRules(6.0, 1, ALWAYS, frozenset(), "America/Sao_Paulo"),
            {},
            Recipients(),
            self.results,
            clock=lambda: START,
            monotonic=lambda: 0.0,
        )

    async def admit(self, messages: list[ClaimedMessage], now: datetime) -> set[str]:
        """The phones that may be sent to now."""
        async with self.pool.acquire() as conn:
            passed = await self.claimer._apply_portfolio_tiers(conn, messages, now)
        return {m.phone for m in passed}


async def test_two_numbers_at_the_250_tier_reach_250_distinct_doctors_per_rolling_24h(
    database_url, db
):
    await db.execute(
        "INSERT INTO dispatcher.portfolios (portfolio, tier) VALUES ('portfolio-1', 'TIER_250')"
    )
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "dispatcher"
    )
    try:
        h = Harness(pool)
        # 09:00: number A asks for 200 cold doctors, number B for 100 others.
        first = await h.admit(
            [claimed(doctor(n), "a", as_template=True) for n in range(200)]
            + [claimed(doctor(n), "b", as_template=True) for n in range(200, 300)],
            START,
        )
        # 15:00: doctors already reached cost nothing; new ones find the tier full; replies pass.
        later = START + timedelta(hours=6)
        again = await h.admit(
            [claimed(doctor(n), "b", as_template=True) for n in range(0, 10)]
            + [claimed(doctor(n), "a", as_template=True) for n in range(300, 320)]
            + [claimed(doctor(n), "b", as_template=False, kind="reply") for n in range(400, 450)],
            later,
        )
        # 09:00 the next day minus a second: still full; at 09:00 the first 250 places free.
        almost = await h.admit(
            [claimed(doctor(n), "a", as_template=True) for n in range(300, 320)],
            START + timedelta(hours=24, seconds=-1),
        )
        next_day = await h.admit(
            [claimed(doctor(n), "a", as_template=True) for n in range(300, 600)],
            START + timedelta(hours=24, seconds=1),
        )
    finally:
        await pool.close()

    assert len(first) == 250
    assert {doctor(n) for n in range(250)} == first  # most urgent first, across both numbers
    assert again == {doctor(n) for n in range(0, 10)} | {doctor(n) for n in range(400, 450)}
    assert almost == set()
    # The 10 re-reached at 15:00 still hold places until 15:00: 240 new ones fit.
    assert len(next_day) == 240
    assert len(h.results.pending) == 50 + 20 + 20 + 60  # everyone refused waits, unsent


async def test_a_red_number_takes_no_campaign_message_but_still_replies(database_url, db):
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "dispatcher"
    )
    try:
        h = Harness(pool)
        passed = await h.admit(
            [
                claimed(doctor(1), "a", as_template=True, quality="RED"),
                claimed(doctor(2), "a", as_template=False, kind="reply", quality="RED"),
                claimed(doctor(3), "a", as_template=True, quality="YELLOW"),
            ],
            START,
        )
    finally:
        await pool.close()
    assert passed == {doctor(2), doctor(3)}
    (waiting,) = h.results.pending
    assert waiting.settlement.attempt_change == -1  # waiting is not failing
