"""The envelope every event shares: identity, time and schema version."""

from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


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
