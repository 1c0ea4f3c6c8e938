"""A requested message's zone, due time and place in line, as the intake decides them."""

from datetime import UTC, datetime, time, timedelta
from uuid import UUID, uuid4

from disparo_dispatcher.handlers import ready_rows
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.events import MessageKind, RequestedMessage

SETTINGS = DispatcherSettings(
    send_window_start=time(8, 0),
    send_window_end=time(20, 0),
    send_on_weekdays=[0, 1, 2, 3, 4, 5, 6],
    time_zone="America/Sao_Paulo",
)
STEP = timedelta(milliseconds=2)
DAYTIME = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 09:00 in São Paulo
NIGHT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 23:00 the evening before in São Paulo
OPENING = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 08:00 in São Paulo
A, B = UUID(int=1), UUID(int=2)


def message(
    kind: MessageKind = MessageKind.CAMPAIGN,
    campaign_id: UUID | None = None,
    phone: str = "+5511987654321",
    not_before: datetime | None = None,
) -> RequestedMessage:
    message_id = uuid4()
    return RequestedMessage(
        message_id=message_id,
        idempotency_key=str(message_id),
        phone=phone,
        kind=kind,
        body="Olá",
        campaign_id=campaign_id,
        not_before=not_before,
    )


def test_each_campaign_takes_consecutive_places_from_its_own_lane():
    lanes = {A: DAYTIME - timedelta(seconds=30), B: DAYTIME - timedelta(seconds=10)}
    batch = [message(campaign_id=c) for c in (A, B, A, A, B)]
    rows = ready_rows(batch, DAYTIME, lanes, STEP, SETTINGS)
    assert [r.rank_at for r in rows] == [
        lanes[A],
        lanes[B],
        lanes[A] + STEP,
        lanes[A] + 2 * STEP,
        lanes[B] + STEP,
    ]
    assert {r.due_at for r in rows} == {DAYTIME}
    assert [r.message_id for r in rows] == [m.message_id for m in batch]
    assert {r.kind for r in rows} == {"campaign"}


def test_at_night_a_campaign_message_waits_for_the_window_and_keeps_its_lane_order():
    lane = NIGHT - timedelta(seconds=5)
    rows = ready_rows(
        [message(campaign_id=A), message(campaign_id=A)], NIGHT, {A: lane}, STEP, SETTINGS
    )
    assert [r.due_at for r in rows] == [OPENING, OPENING]
    assert [r.rank_at for r in rows] == [lane + (OPENING - NIGHT), lane + STEP + (OPENING - NIGHT)]


def test_a_reply_goes_at_any_hour_and_its_place_is_its_due_time():
    (row,) = ready_rows([message(MessageKind.REPLY)], NIGHT, {}, STEP, SETTINGS)
    assert row.due_at == row.rank_at == NIGHT


def test_a_scheduled_message_is_due_when_asked_and_the_recipient_zone_comes_from_the_phone():
    later = DAYTIME + timedelta(hours=2)
    past = DAYTIME - timedelta(hours=2)
    rows = ready_rows(
        [
            message(MessageKind.FOLLOWUP, phone="+5592991234567", not_before=later),
            message(MessageKind.FOLLOWUP, not_before=past),
        ],
        DAYTIME,
        {},
        STEP,
        SETTINGS,
    )
    assert [(r.time_zone, r.due_at, r.rank_at) for r in rows] == [
        ("America/Manaus", later, later),
        ("America/Sao_Paulo", DAYTIME, DAYTIME),
    ]
