"""Every free-text field of every event has a length cap, and a longer value is refused naming
the field (so one oversized field cannot swell an event; a client publishing on the bus
directly gets its event refused where it is parsed)."""

import types
import typing
import uuid

import pytest
from annotated_types import MaxLen
from pydantic import BaseModel, ValidationError

from disparo_shared.events import (
    ContactOptedOut,
    ConversationControlChanged,
    Event,
    MessageKind,
    MessageReceived,
    RequestedMessage,
    limits,
)
from disparo_shared.events.campaigns import CampaignCreated

# Text the services make themselves from what a provider answered (ids, error words): capping
# these would turn a provider's long error into a failed webhook or a lost send record.
PROVIDER_MADE = {
    ("EnqueuedMessage", "sender"),
    ("SentMessage", "sender"),
    ("MessageFailed", "error_code"),
    ("MessageFailed", "error"),
    ("MessageDelivered", "provider_message_id"),
    ("MessageRead", "provider_message_id"),
    ("MessageReceived", "phone"),
    ("MessageReceived", "sender"),
    ("MessageReceived", "provider_message_id"),
}


def _event_classes() -> list[type[Event]]:
    found, pending = [], list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "subject" in cls.__dict__:
            found.append(cls)
    return found


def _parts(annotation, capped: bool) -> list[tuple[object, bool]]:
    """The types inside ``annotation``, each with whether an ``Annotated`` cap wraps it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        has_cap = any(
            isinstance(m, MaxLen) or any(isinstance(x, MaxLen) for x in getattr(m, "metadata", ()))
            for m in metadata
        )
        return _parts(inner, capped or has_cap)
    if isinstance(annotation, types.UnionType) or origin is typing.Union or origin is list:
        return [p for arg in typing.get_args(annotation) for p in _parts(arg, capped)]
    return [(annotation, capped)]


def _text_fields(model: type[BaseModel], seen: set) -> list[tuple[type[BaseModel], str, bool]]:
    """(model, field, capped) for every text field of ``model`` and the models inside it."""
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, field in model.model_fields.items():
        field_cap = any(isinstance(m, MaxLen) for m in field.metadata)
        for part, item_cap in _parts(field.annotation, False):
            if part is str:
                # a list's cap counts its items, not their length: items need their own
                outer_is_list = typing.get_origin(field.annotation) is list or any(
                    typing.get_origin(a) is list for a in typing.get_args(field.annotation)
                )
                found.append((model, name, item_cap or (field_cap and not outer_is_list)))
            elif isinstance(part, type) and issubclass(part, BaseModel):
                found.extend(_text_fields(part, seen))
    return found


def _all_text_fields() -> list[tuple[type[BaseModel], str, bool]]:
    seen: set = set()
    return [f for cls in _event_classes() for f in _text_fields(cls, seen)]


def test_every_free_text_field_of_every_event_has_a_cap() -> None:
    uncapped = {(model.__name__, name) for model, name, capped in _all_text_fields() if not capped}
    assert uncapped == PROVIDER_MADE


def _requested(**fields) -> dict:
    message_id = uuid.uuid4()
    return {
        "message_id": message_id,
        "idempotency_key": f"test:{message_id}",
        "phone": "+5511987654321",
        "kind": MessageKind.REPLY,
        "body": "Olá",
        **fields,
    }


@pytest.mark.parametrize(
    ("model", "values", "field", "cap"),
    [
        (RequestedMessage, _requested(), "contact_name", limits.NAME),
        (RequestedMessage, _requested(), "idempotency_key", limits.KEY),
        (RequestedMessage, _requested(), "phone", limits.PHONE),
        (RequestedMessage, _requested(), "body", 4096),
        (ContactOptedOut, {"phone": "+5511987654321", "reason": "x"}, "reason", limits.REASON),
        (CampaignCreated, {"campaign_id": uuid.uuid4(), "name": "x"}, "name", limits.NAME),
        (
            ConversationControlChanged,
            {"conversation_id": uuid.uuid4(), "controlled_by": "human", "stopped": True, "by": "a"},
            "by",
            limits.NAME,
        ),
        (
            MessageReceived,
            {"phone": "+55", "sender": "s", "body": "x", "provider_message_id": "p", "at": 0},
            "body",
            limits.INBOUND_BODY,
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_field_past_its_cap_is_refused_naming_it(model, values, field, cap) -> None:
    model(**{**values, field: "a" * cap})  # at the cap: fine
    with pytest.raises(ValidationError) as refused:
        model(**{**values, field: "a" * (cap + 1)})
    (error,) = refused.value.errors()
    assert error["loc"] == (field,) and error["type"] == "string_too_long"
