"""Which provider echo proves a doubtful send went out; and how webhooks become echoes."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from disparo_dispatcher.echo_matching import (
    DoubtfulSend,
    RecordedEcho,
    body_digest,
    match_echoes,
)
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.webhooks.cloud import parse_cloud_webhook
from disparo_dispatcher.webhooks.evolution import parse_evolution_webhook

CLAIMED = datetime(2026, 11, 25, 13, 0, 0, 400000, tzinfo=UTC)
DOUBTED = CLAIMED + timedelta(seconds=10.2)  # e.g. the call timed out after 10 s
SKEW = timedelta(seconds=2)
DOCTOR = "+5511987654321"
TEXT = "Olá, Dra. Ana! Temos um plantão no sábado."


def doubtful(**changes) -> DoubtfulSend:
    fields = dict(
        message_id=uuid4(),
        attempt=1,
        provider="evolution",
        address="recife-01",
        phone=DOCTOR,
        body_sha256=body_digest(TEXT),
        claimed_at=CLAIMED,
        in_doubt_since=DOUBTED,
    )
    return DoubtfulSend(**{**fields, **changes})


def evolution_echo(at: datetime, key: str = "3EB0A", **changes) -> RecordedEcho:
    fields = dict(
        provider="evolution",
        provider_message_id=key,
        address="recife-01",
        message_id=None,
        recipient=DOCTOR,
        body_sha256=body_digest(TEXT),
        at=at,
    )
    return RecordedEcho(**{**fields, **changes})


def whole_second(at: datetime) -> datetime:
    """Evolution stamps its echoes in whole seconds."""
    return at.replace(microsecond=0)


def test_an_evolution_echo_of_the_same_text_in_the_window_proves_the_send():
    send = doubtful()
    echo = evolution_echo(whole_second(CLAIMED))  # 13:00:00, before the claim's .4 s: skew
    assert match_echoes([send], [echo], SKEW) == {send.message_id: echo}


def test_an_evolution_echo_outside_the_window_is_another_send():
    send = doubtful()
    earlier = evolution_echo(CLAIMED - timedelta(seconds=10), key="old")
    later = evolution_echo(DOUBTED + timedelta(seconds=3), key="late")
    assert match_echoes([send], [earlier, later], SKEW) == {}


def test_every_identifying_field_must_agree():
    send = doubtful()
    at = CLAIMED + timedelta(seconds=1)
    mismatches = [
        evolution_echo(at, address="recife-02"),
        evolution_echo(at, recipient="+5511912345678"),
        evolution_echo(at, body_sha256=body_digest(TEXT + " ")),
        evolution_echo(at, provider="cloud"),
    ]
    for echo in mismatches:
        assert match_echoes([send], [echo], SKEW) == {}, echo


def test_two_identical_doubtful_sends_take_two_different_echoes():
    first = doubtful(claimed_at=CLAIMED)
    second = doubtful(claimed_at=CLAIMED + timedelta(seconds=1))
    echo_a = evolution_echo(CLAIMED + timedelta(seconds=1), key="A")
    echo_b = evolution_echo(CLAIMED + timedelta(seconds=2), key="B")
    matched = match_echoes([second, first], [echo_b, echo_a], SKEW)
    assert {k: e.provider_message_id for k, e in matched.items()} == {
        first.message_id: "A",
        second.message_id: "B",
    }


def test_one_echo_never_proves_two_sends():
    first, second = doubtful(), doubtful(claimed_at=CLAIMED + timedelta(seconds=1))
    matched = match_echoes([first, second], [evolution_echo(CLAIMED + timedelta(seconds=2))], SKEW)
    assert list(matched) == [first.message_id]


def test_an_echo_already_recorded_on_another_message_is_not_reused():
    send = doubtful()
    echo = evolution_echo(CLAIMED + timedelta(seconds=1), key="owned")
    assert match_echoes([send], [echo], SKEW, owned={"owned"}) == {}


def test_a_cloud_echo_naming_our_message_proves_it_whenever_it_was_made():
    send = doubtful(provider="cloud", address="100000000000001")
    echo = RecordedEcho(
        provider="cloud",
        provider_message_id="wamid.X",
        address="100000000000001",
        message_id=send.message_id,
        recipient=DOCTOR,
        body_sha256=None,
        at=CLAIMED - timedelta(hours=1),  # an earlier attempt's send: it went out
    )
    assert match_echoes([send], [echo], SKEW) == {send.message_id: echo}


def test_an_attempt_claimed_before_claims_were_recorded_matches_only_by_id():
    send = doubtful(claimed_at=None)
    assert match_echoes([send], [evolution_echo(CLAIMED)], SKEW) == {}


def test_evolution_send_message_becomes_an_echo_with_digest_and_normalised_recipient():
    payload = {
        "event": "SEND_MESSAGE",
        "instance": "recife-01",
        "data": {
            # WhatsApp's id of an old-style mobile lacks the ninth digit; ours has it.
            "key": {"remoteJid": "551187654321@s.whatsapp.net", "fromMe": True, "id": "3EB0A"},
            "message": {"conversation": TEXT},
            "messageTimestamp": 1764075600,
            "status": "PENDING",
        },
    }
    batch = parse_evolution_webhook(payload, lambda: CLAIMED)
    assert not batch.statuses and not batch.inbound
    [echo] = batch.echoes
    assert echo == RecordedEcho(
        provider="evolution",
        provider_message_id="3EB0A",
        address="recife-01",
        message_id=None,
        recipient=DOCTOR,
        body_sha256=body_digest(TEXT),
        at=datetime(2025, 11, 25, 13, 0, tzinfo=UTC),
    )


def test_cloud_sent_status_becomes_an_echo_naming_our_message():
    message_id = uuid4()
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "w",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "123"},
                            "statuses": [
                                {
                                    "id": "wamid.A",
                                    "status": "sent",
                                    "timestamp": "1764075600",
                                    "recipient_id": "5511987654321",
                                    "biz_opaque_callback_data": str(message_id),
                                },
                                {"id": "wamid.A", "status": "delivered", "timestamp": "1764075601"},
                            ],
                        },
                    }
                ],
            }
        ],
    }
    batch = parse_cloud_webhook(payload, lambda: CLAIMED)
    [echo] = batch.echoes
    assert (echo.provider, echo.provider_message_id, echo.address, echo.message_id) == (
        "cloud",
        "wamid.A",
        "123",
        message_id,
    )
    assert echo.recipient == DOCTOR and echo.body_sha256 is None
    assert [s.status.value for s in batch.statuses] == ["delivered"]


def test_senders_without_echoes_are_never_held_in_doubt():
    settings = DispatcherSettings(senders_without_echoes=["old-evolution"])
    assert settings.reclaim_sending_as == "resolve"
    assert settings.echoes_from("recife-01") and not settings.echoes_from("old-evolution")
    assert not DispatcherSettings(provider_echoes=False).echoes_from("recife-01")


def test_echoes_must_outlive_the_longest_doubt():
    with pytest.raises(ValidationError, match="echo_retention_seconds"):
        DispatcherSettings(echo_retention_seconds=60, in_doubt_grace_seconds=30)
