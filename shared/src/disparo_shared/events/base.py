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

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utc_now)
    schema_version: int = 1

    def routing_headers(self) -> dict[str, str]:
        """NATS headers a consumer may read without decoding the body (none by default)."""
        return {}
