"""The benchmark's load: ``messages.requested`` commands published straight to JetStream.

The benchmark acts as an internal client of the dispatcher, as the campaign API does: each
command is a ``MessagesRequested`` event on the prefixed ``messages.requested`` subject (an
urgent reply on ``messages.requested.urgent``) with ``Nats-Msg-Id`` = its ``event_id``. Every
recipient is unique, so the pair-spacing rule (one message per recipient every few seconds)
never holds a message back and the senders' rate is what the run measures. Message ids are the
ones the product makes: a campaign's from its start and each recipient's number
(``campaign_message_id``), a reply's time-ordered. Random ids would put every insert and every
claim's new row version on a random leaf of the queue's primary key, which at millions of rows
no longer stays in shared buffers: a cost the product does not have.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext

from disparo_campaign_api.campaigns.message_ids import campaign_message_id
from disparo_shared.events import (
    MessageKind,
    MessagesRequested,
    MessageTemplate,
    RequestedMessage,
)
from disparo_shared.streams import qualified
from disparo_shared.time_ordered_ids import time_ordered_uuid

CAMPAIGN_BODY = (
    "Olá! Temos plantões disponíveis na sua região esta semana. Posso enviar os detalhes?"
)
REPLY_BODY = "Obrigado pela resposta! Um recrutador fala com você em instantes."
# The bench's doctors never wrote to the Cloud numbers: those send these approved templates
# (registered in the simulator by ``stack``); Evolution numbers send the texts.
CAMPAIGN_TEMPLATE = MessageTemplate(name="bench_campanha", language="pt_BR")
REPLY_TEMPLATE = MessageTemplate(name="bench_resposta", language="pt_BR")
BENCH_TEMPLATES = [
    {"name": CAMPAIGN_TEMPLATE.name, "language": "pt_BR", "body": CAMPAIGN_BODY},
    {"name": REPLY_TEMPLATE.name, "language": "pt_BR", "category": "UTILITY", "body": REPLY_BODY},
]
CAMPAIGN_PRIORITY = 5
URGENT_PRIORITY = 10


def campaign_phone(index: int) -> str:
    """The ``index``-th campaign recipient: São Paulo mobiles, +55 11 9xxxx-xxxx."""
    return f"+55119{index:08d}"


def urgent_phone(index: int) -> str:
    """The ``index``-th urgent recipient: Rio mobiles, never a campaign recipient."""
    return f"+55219{index:08d}"


@dataclass(frozen=True)
class CampaignLoad:
    """The backlog: ``count`` campaign messages of one campaign, in commands of ``batch_size``."""

    count: int
    batch_size: int
    max_attempts: int
    campaign_id: uuid.UUID
    started_at: datetime

    def commands(self) -> Iterator[MessagesRequested]:
        for start in range(0, self.count, self.batch_size):
            stop = min(start + self.batch_size, self.count)
            yield MessagesRequested(
                messages=[
                    RequestedMessage(
                        message_id=campaign_message_id(
                            self.campaign_id, self.started_at, index + 1
                        ),
                        idempotency_key=f"bench-{self.campaign_id}-{index}",
                        phone=campaign_phone(index),
                        kind=MessageKind.CAMPAIGN,
                        body=CAMPAIGN_BODY,
                        priority=CAMPAIGN_PRIORITY,
                        campaign_id=self.campaign_id,
                        max_attempts=self.max_attempts,
                        template=CAMPAIGN_TEMPLATE,
                    )
                    for index in range(start, stop)
                ]
            )


def urgent_command(index: int, max_attempts: int) -> MessagesRequested:
    """One priority-10 reply, alone in its command, as a recruiter's answer would be."""
    return MessagesRequested(
        messages=[
            RequestedMessage(
                message_id=time_ordered_uuid(datetime.now(UTC)),
                idempotency_key=f"bench-urgent-{uuid.uuid4()}",
                phone=urgent_phone(index),
                kind=MessageKind.REPLY,
                body=REPLY_BODY,
                priority=URGENT_PRIORITY,
                conversation_id=uuid.uuid4(),
                max_attempts=max_attempts,
                template=REPLY_TEMPLATE,
            )
        ]
    )


@dataclass(frozen=True, slots=True)
class Serialized:
    """A command as it is published, made before the run: building and serializing a backlog
    while it is published would take the CPU the dispatcher is measured on, and a backlog of
    five million messages kept as models held 8.5 GB (as bytes: about 1.5 GB)."""

    subject: str  # unprefixed: an urgent reply on the urgent subject, as the outbox relay does
    body: bytes
    event_id: str

    @classmethod
    def of(cls, command: MessagesRequested) -> "Serialized":
        body = command.model_dump_json().encode()
        return cls(command.publish_subject, body, str(command.event_id))


async def publish(
    js: JetStreamContext, stream_prefix: str, command: MessagesRequested | Serialized
) -> float:
    """Publish ``command`` and wait for JetStream's ack; returns the wall-clock time it was
    handed over (unix seconds), the start of its enqueue-to-sent latency."""
    if isinstance(command, MessagesRequested):
        command = Serialized.of(command)
    published_at = time.time()
    await js.publish(
        qualified(stream_prefix, command.subject),
        command.body,
        headers={"Nats-Msg-Id": command.event_id},
        timeout=10.0,
    )
    return published_at
