"""The replica's memory of its recent answers forgets only what can no longer hold a pair back."""

from datetime import UTC, datetime, timedelta

from disparo_dispatcher.recipients import Recipients

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def answered(recipients: Recipients, phone: str, at: datetime) -> None:
    recipients.claimed(phone)
    recipients.answered(phone, at)


def test_answers_older_than_the_horizon_are_forgotten_newer_ones_kept():
    recipients = Recipients()
    answered(recipients, "+5511900000001", T0)
    answered(recipients, "+5511900000002", T0 + timedelta(seconds=10))
    answered(recipients, "+5511900000003", T0 + timedelta(seconds=20))

    recipients.forget_before(T0 + timedelta(seconds=10))

    now = T0 + timedelta(seconds=30)
    assert recipients.last_send("+5511900000001", now) is None
    assert recipients.last_send("+5511900000002", now) is None
    assert recipients.last_send("+5511900000003", now) == T0 + timedelta(seconds=20)


def test_a_phone_answered_again_keeps_its_latest_answer():
    recipients = Recipients()
    answered(recipients, "+5511900000001", T0)
    answered(recipients, "+5511900000002", T0 + timedelta(seconds=5))
    answered(recipients, "+5511900000001", T0 + timedelta(seconds=60))

    recipients.forget_before(T0 + timedelta(seconds=30))

    now = T0 + timedelta(seconds=61)
    assert recipients.last_send("+5511900000001", now) == T0 + timedelta(seconds=60)
    assert recipients.last_send("+5511900000002", now) is None


def test_an_answer_out_of_clock_order_is_never_forgotten_too_soon():
    recipients = Recipients()
    answered(recipients, "+5511900000001", T0 + timedelta(seconds=50))
    answered(recipients, "+5511900000002", T0 + timedelta(seconds=10))  # the clock stepped back

    recipients.forget_before(T0 + timedelta(seconds=30))

    now = T0 + timedelta(seconds=51)
    assert recipients.last_send("+5511900000001", now) == T0 + timedelta(seconds=50)
    assert recipients.last_send("+5511900000002", now) == T0 + timedelta(seconds=10)


def test_a_message_still_held_counts_as_sent_now():
    recipients = Recipients()
    answered(recipients, "+5511900000001", T0)
    recipients.claimed("+5511900000001")

    assert recipients.last_send("+5511900000001", T0 + timedelta(seconds=3)) == T0 + timedelta(
        seconds=3
    )


def test_a_phone_counts_as_held_until_its_last_claimed_message_is_answered_or_handed_back():
    recipients = Recipients()
    phone = "+5511900000001"
    answered(recipients, phone, T0)
    recipients.claimed(phone)
    recipients.claimed(phone)
    now = T0 + timedelta(seconds=3)

    recipients.released(phone)
    assert recipients.last_send(phone, now) == now  # one of the two still waits here

    recipients.answered(phone, T0 + timedelta(seconds=2))
    assert recipients.last_send(phone, now) == T0 + timedelta(seconds=2)
