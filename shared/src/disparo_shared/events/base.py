"""The envelope every event shares: identity, time and schema version."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

import orjson
from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_FIELDS = ("event_id", "occurred_at", "schema_version")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """A fact (or the one command) carried by JetStream.

    ``event_id`` doubles as the ``Nats-Msg-Id`` header, so a republished event is dropped by the
    stream's duplicate window and by every consumer's inbox.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    subject: ClassVar[str]
    """The subject events of this class are published on, unless ``publish_subject`` picks
    another of ``every_subject()`` for one of them."""

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utc_now)
    schema_version: int = 1

    @classmethod
    def every_subject(cls) -> tuple[str, ...]:
        """Every subject an event of this class may be published on (its readers read them
        all): ``subject`` alone for most."""
        return (cls.subject,)

    @property
    def publish_subject(self) -> str:
        """The subject this event is published on; publishers use it, never ``subject``."""
        return self.subject

    @classmethod
    def serialized(cls, **fields: object) -> "SerializedEvent":
        """This event as JSON for the outbox, written straight from ``fields``, unvalidated.

        For events a service builds by the thousand from rows it has just written itself
        (``message.enqueued``, ``message.sent``): validating a model per event and dumping it
        again cost more than the statement storing them. The fields must be what the model
        takes, already in JSON's types or orjson's (UUID, aware datetime, str enums); a test
        per caller parses the payload back into the model. Only for events of one subject.
        """
        if cls.every_subject() != (cls.subject,):
            raise TypeError(f"{cls.__name__} picks its subject per event; build the model")
        event_id = uuid4()
        envelope = {
            "event_id": event_id,
            "occurred_at": utc_now(),
            "schema_version": cls.model_fields["schema_version"].default,
        }
        payload = orjson.dumps({**envelope, **fields}, default=_uuid_subclass)
        return SerializedEvent(event_id, cls.subject, payload)


def _uuid_subclass(value: object) -> str:
    """orjson writes ``uuid.UUID`` itself but not its subclasses, such as asyncpg's."""
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class SerializedEvent:
    """An event already written as JSON (``Event.serialized``), staged like a model by
    ``outbox.add_events``."""

    event_id: UUID
    publish_subject: str
    payload: bytes
