"""What followup's integration tests share: the start time, a clock the test moves, the shape
of the publish fixture (``conftest.py`` has the fixtures), a campaign conversation opened by
the events that flow, and the messages requested on the stream."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from disparo_shared.events import (
    Event,
    MessageKind,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
    SentMessage,
    campaign_conversation_id,
)
from disparo_shared.events.subjects import STREAM_COMMANDS
from disparo_shared.streams import qualified, stream_name
from disparo_shared.testing.fixtures import eventually

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
Publish = Callable[[Event], Awaitable[None]]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def open_campaign_conversation(
    client: AsyncTestClient,
    publish: Publish,
    phone: str,
    campaign_id: UUID | None = None,
    contact_id: UUID | None = None,
    sent_at: datetime = T0,
) -> UUID:
    """A campaign message requested and sent: the conversation followup learns from them."""
    campaign_id = campaign_id or uuid4()
    contact_id = contact_id or uuid4()
    conversation_id = campaign_conversation_id(campaign_id, contact_id)
    message_id = uuid4()
    await publish(
        MessagesRequested(
            messages=[
                RequestedMessage(
                    message_id=message_id,
                    idempotency_key=f"campaign:{campaign_id}:{contact_id}",
                    contact_id=contact_id,
                    phone=phone,
                    kind=MessageKind.CAMPAIGN,
                    body="Olá! Temos plantões no ABC.",
                    campaign_id=campaign_id,
                    conversation_id=conversation_id,
                    contact_name="Ana Lima",
                )
            ],
            occurred_at=T0 - timedelta(minutes=5),
        )
    )
    await publish(
        one_sent(
            message_id,
            conversation_id,
            MessageKind.CAMPAIGN,
            sent_at,
            campaign_id=campaign_id,
            contact_id=contact_id,
        )
    )

    async def known():
        answer = await client.get(f"/v1/conversations/{conversation_id}")
        if answer.status_code != 200:
            return False
        # both events applied: the request (stage, phone) and the send (time)
        return answer.json()["last_outbound_at"] is not None and answer.json()["stage"]

    await eventually(known)
    return conversation_id


def sent(
    conversation_id: UUID | None,
    kind: MessageKind,
    at: datetime,
    campaign_id: UUID | None = None,
    contact_id: UUID | None = None,
    message_id: UUID | None = None,
) -> SentMessage:
    """One send as ``message.sent`` tells it, the provider's details filled in."""
    message_id = message_id or uuid4()
    return SentMessage(
        message_id=message_id,
        campaign_id=campaign_id,
        contact_id=contact_id,
        conversation_id=conversation_id,
        kind=kind,
        provider_message_id=f"wamid.{message_id.hex}",
        sender="sender-1",
        attempt=1,
        sent_at=at,
    )


def one_sent(
    message_id: UUID,
    conversation_id: UUID,
    kind: MessageKind,
    sent_at: datetime,
    *,
    campaign_id: UUID | None = None,
    contact_id: UUID | None = None,
    **event_fields: Any,
) -> MessagesSent:
    """A ``message.sent`` of one send (a flush of one)."""
    send = sent(conversation_id, kind, sent_at, campaign_id, contact_id, message_id)
    return MessagesSent(messages=[send], **event_fields)


async def requested_followups(js: JetStreamContext, prefix: str) -> list[dict]:
    """Every message requested on the test's command stream so far."""
    info = await js.stream_info(stream_name(prefix, STREAM_COMMANDS))
    if info.state.messages == 0:
        return []
    # every subject of the stream: a request for an urgent message has a subject of its own
    sub = await js.subscribe(
        qualified(prefix, ">"), stream=stream_name(prefix, STREAM_COMMANDS), ordered_consumer=True
    )
    messages = []
    try:
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=5)
            messages += MessagesRequested.model_validate_json(msg.data).model_dump(mode="json")[
                "messages"
            ]
    finally:
        await sub.unsubscribe()
    return messages
