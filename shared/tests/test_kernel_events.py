"""The event catalog: every event has a stream, is frozen, and survives the JSON round trip."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from disparo_shared.events import (
    Event,
    MessageKind,
    MessagesEnqueued,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
)
from disparo_shared.events.messages import URGENT_PRIORITY
from disparo_shared.events.subjects import STREAM_SUBJECTS


def all_event_classes() -> list[type[Event]]:
    found, pending = [], list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "subject" in cls.__dict__:
            found.append(cls)
    return found


def _matches(pattern: str, subject: str) -> bool:
    if pattern.endswith(".>"):
        return subject.startswith(pattern[:-1])
    return pattern == subject


@pytest.mark.parametrize("event_class", all_event_classes(), ids=lambda c: c.__name__)
def test_every_event_subject_is_captured_by_exactly_one_stream(event_class):
    for subject in event_class.every_subject():
        streams = [
            name
            for name, patterns in STREAM_SUBJECTS.items()
            if any(_matches(p, subject) for p in patterns)
        ]
        assert len(streams) == 1, f"{subject} is in streams {streams}"


def requested(*priorities: int) -> MessagesRequested:
    return MessagesRequested(
        messages=[
            RequestedMessage(
                message_id=uuid.uuid4(),
                idempotency_key="k-1",
                phone="+5511987654321",
                kind=MessageKind.CAMPAIGN,
                body="Olá {nome}",
                priority=priority,
                not_before=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            )
            for priority in priorities or (3,)
        ]
    )


@pytest.mark.parametrize(
    ("priorities", "subject"),
    [
        ((3,), "messages.requested"),
        ((7, 4), "messages.requested"),
        ((URGENT_PRIORITY,), "messages.requested.urgent"),
        ((3, 10), "messages.requested.urgent"),
    ],
)
def test_a_request_holding_an_urgent_message_has_the_urgent_subject(priorities, subject):
    event = requested(*priorities)

    assert event.publish_subject == subject
    assert subject in MessagesRequested.every_subject()
    assert MessagesRequested.subject == "messages.requested"  # what in-turn readers subscribe to


def test_an_empty_request_is_not_urgent():
    assert MessagesRequested(messages=[]).publish_subject == "messages.requested"


def test_events_round_trip_through_json_unchanged():
    event = requested()

    wire = json.dumps(event.model_dump(mode="json"))

    assert MessagesRequested.model_validate_json(wire) == event


def test_events_are_frozen():
    event = requested()

    with pytest.raises(ValidationError):
        event.schema_version = 2


def test_each_event_gets_its_own_id_and_a_utc_time():
    first, second = requested(), requested()

    assert first.event_id != second.event_id
    assert first.occurred_at.tzinfo is not None
    assert first.occurred_at.utcoffset().total_seconds() == 0


def test_unknown_fields_from_a_newer_producer_are_ignored():
    payload = requested().model_dump(mode="json") | {"added_in_v2": True}

    assert MessagesRequested.model_validate(payload).event_id is not None


@pytest.mark.parametrize("priority", [0, 11])
def test_priority_is_bounded_to_1_through_10(priority):
    with pytest.raises(ValidationError, match="priority"):
        RequestedMessage(
            message_id=uuid.uuid4(),
            idempotency_key="k",
            phone="+5511987654321",
            kind=MessageKind.REPLY,
            body="oi",
            priority=priority,
        )


class DriverUUID(uuid.UUID):
    pass


def test_an_event_serialized_from_its_fields_reads_back_as_the_model_would_build_it():
    message = {
        "message_id": DriverUUID(str(uuid.uuid4())),  # as asyncpg returns them
        "campaign_id": None,
        "kind": MessageKind.CAMPAIGN,
        "sender": "sim-01",
        "not_before": datetime(2026, 12, 5, 14, 30, 0, 123456, tzinfo=UTC),
    }
    serialized = MessagesEnqueued.serialized(messages=[message])

    parsed = MessagesEnqueued.model_validate_json(serialized.payload)

    assert parsed.event_id == serialized.event_id
    assert serialized.publish_subject == MessagesEnqueued.subject
    assert parsed.occurred_at.tzinfo is not None
    built = MessagesEnqueued(
        event_id=parsed.event_id, occurred_at=parsed.occurred_at, messages=[message]
    )
    assert parsed == built


def test_an_event_that_picks_its_subject_cannot_be_serialized_unvalidated():
    with pytest.raises(TypeError, match="MessagesRequested"):
        MessagesRequested.serialized(messages=[])


def test_a_message_sent_of_version_1_reads_as_a_batch_of_one():
    """One send per event, as published before sends were batched, may still be in a stream."""
    message_id, event_id = uuid.uuid4(), uuid.uuid4()
    version_1 = {
        "event_id": str(event_id),
        "occurred_at": "2026-11-20T12:00:01Z",
        "schema_version": 1,
        "message_id": str(message_id),
        "campaign_id": None,
        "kind": "campaign",
        "provider_message_id": "3EB0OLD",
        "sender": "sim-1",
        "attempt": 2,
        "sent_at": "2026-11-20T12:00:00Z",
    }
    event = MessagesSent.model_validate_json(json.dumps(version_1))
    assert (event.event_id, event.schema_version) == (event_id, 1)
    [sent] = event.messages
    assert (sent.message_id, sent.provider_message_id, sent.attempt) == (message_id, "3EB0OLD", 2)
    assert sent.sent_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_message_sent_holds_at_least_one_send():
    with pytest.raises(ValidationError, match="messages"):
        MessagesSent(messages=[])
