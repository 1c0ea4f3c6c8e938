"""Events projected in batches end where the same events projected one by one end: a duplicate
counts once, a poison event fails alone, and any stream of message events, split into batches
any way, leaves the same rows."""

import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import nats
import pytest
from litestar.testing import AsyncTestClient
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY
from test_reporting_api import T0, requested, sent, sent_message, with_report_keys

from disparo_reporting.app import create_app
from disparo_reporting.batch_projection import project_batch
from disparo_reporting.projections import CONSUMER, project
from disparo_reporting.settings import ReportingSettings
from disparo_shared.events import (
    CampaignStarted,
    EnqueuedMessage,
    Event,
    MessageCancelled,
    MessageDelivered,
    MessageFailed,
    MessageKind,
    MessageRead,
    MessageReceived,
    MessagesEnqueued,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
    SentMessage,
    subjects,
)
from disparo_shared.events.subjects import DEAD_LETTER_PREFIX
from disparo_shared.phone_digests import session_settings
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DatabaseSettings
from disparo_shared.streams import ensure_streams, qualified, stream_name
from disparo_shared.testing.fixtures import eventually

WINDOW = timedelta(hours=72)
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=2,
        server_settings={
            "search_path": "reporting",
            **session_settings(DatabaseSettings().phone_digest_key),
        },
    ) as pool:
        yield pool


def delivered(message_id: UUID, at) -> MessageDelivered:
    return MessageDelivered(message_id=message_id, provider_message_id="wamid.x", at=at)


def poisoned_send(message_id: UUID) -> MessagesSent:
    """A send Postgres refuses: a NUL in a text."""
    return MessagesSent(
        messages=[sent_message(message_id, T0 + MINUTE, sender="sender-\x00")],
        occurred_at=T0 + MINUTE,
    )


async def test_a_duplicate_in_a_batch_is_projected_once(pool: asyncpg.Pool) -> None:
    message_id = uuid4()
    first_send = sent(message_id, T0 + MINUTE)
    assert await project_batch(
        pool, [first_send, first_send, delivered(message_id, T0 + 2 * MINUTE)], WINDOW
    ) == 2  # fmt: skip
    read = MessageRead(message_id=message_id, provider_message_id="wamid.x", at=T0 + 3 * MINUTE)
    assert await project_batch(pool, [first_send, read, read], WINDOW) == 1

    row = await pool.fetchrow(
        "SELECT state, attempts FROM messages WHERE message_id = $1", message_id
    )
    assert (row["state"], row["attempts"]) == ("read", 1)
    statuses = await pool.fetch(
        "SELECT status FROM message_history WHERE message_id = $1 ORDER BY at", message_id
    )
    assert [r["status"] for r in statuses] == ["sent", "delivered", "read"]
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", CONSUMER) == 3


async def test_a_batch_that_fails_leaves_nothing_behind(pool: asyncpg.Pool) -> None:
    """All or nothing: the subscriber can then project each event alone."""
    good, bad = uuid4(), uuid4()
    with pytest.raises(asyncpg.PostgresError):
        await project_batch(pool, [sent(good, T0 + MINUTE), poisoned_send(bad)], WINDOW)
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_a_poison_event_in_a_pull_fails_alone_and_the_others_are_projected(
    kernel_settings: KernelSettings,
) -> None:
    """The pull holds good events and one that Postgres refuses (a NUL in a text): the batch
    fails, each event is projected alone, the good ones land, the poison is dead-lettered."""
    prefix = kernel_settings.nats.stream_prefix
    nc = await nats.connect(kernel_settings.nats.url)
    js = nc.jetstream()
    await ensure_streams(js, kernel_settings.nats)  # publish before the service pulls
    good = [uuid4() for _ in range(5)]
    poison = poisoned_send(uuid4())
    events: list[Event] = [sent(m, T0 + MINUTE) for m in good[:3]]
    events += [poison, *(sent(m, T0 + MINUTE) for m in good[3:])]
    for event in events:
        await js.publish(
            qualified(prefix, event.publish_subject),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )
    fallbacks = REGISTRY.get_sample_value("disparo_reporting_batch_fallbacks_total") or 0.0
    app = create_app(
        with_report_keys(kernel_settings),
        ReportingSettings(max_deliveries=1),  # dead-lettered at its first failure
    )

    async def dead_letter():
        try:
            return await js.get_last_msg(
                stream_name(prefix, subjects.STREAM_DEAD_LETTERS),
                qualified(prefix, DEAD_LETTER_PREFIX + subjects.MESSAGE_SENT),
            )
        except NotFoundError:
            return None

    try:
        async with AsyncTestClient(app, base_url="http://reporting.local") as client:
            client.headers.update({"X-API-Key": "reports-key"})

            async def all_good_projected() -> bool:
                for message_id in good:
                    response = await client.get(f"/v1/messages/{message_id}")
                    if response.status_code != 200 or response.json()["state"] != "sent":
                        return False
                return True

            await eventually(all_good_projected, timeout=20)
            letter = await eventually(dead_letter, timeout=20)
            missing = await client.get(f"/v1/messages/{poison.messages[0].message_id}")
    finally:
        await nc.close()
    assert json.loads(letter.data)["event_id"] == str(poison.event_id)
    assert missing.status_code == 404
    # the five good events and the poison came in one pull: that batch failed as a whole
    assert REGISTRY.get_sample_value("disparo_reporting_batch_fallbacks_total") >= fallbacks + 1


# --- one flush of sends, many messages ---------------------------------------------------


async def project_alone(pool: asyncpg.Pool, event: Event) -> bool:
    return await project(pool, event, WINDOW)


async def project_in_a_batch(pool: asyncpg.Pool, event: Event) -> bool:
    return await project_batch(pool, [event], WINDOW) == 1


SENDS_HISTORY = "SELECT message_id, status, at, detail FROM message_history ORDER BY 1, 2, 3"


@pytest.mark.parametrize("projector", [project_alone, project_in_a_batch])
async def test_every_send_of_a_flush_is_projected_once(pool: asyncpg.Pool, projector) -> None:
    """One ``message.sent`` for three messages of two campaigns, to two doctors, in three
    conversations, doctor X sent to twice at different times. Each message gets its own
    campaign, conversation, time, attempt and history; each doctor's earlier replies go to the
    latest send before them; the same event again changes nothing; and the rows are those the
    three sends leave projected one at a time, in another order."""
    campaign_a, campaign_b = uuid4(), uuid4()
    doctor_x, doctor_y = "+5511987650101", "+5511987650102"
    x_in_a, y_in_a, x_in_b = uuid4(), uuid4(), uuid4()
    conversation = {message_id: uuid4() for message_id in (x_in_a, y_in_a, x_in_b)}
    items = [  # the first item alone would leave two of the three unsent
        sent_message(x_in_b, T0 + 5 * MINUTE, campaign_b, conversation_id=conversation[x_in_b]),
        sent_message(x_in_a, T0 + MINUTE, campaign_a, conversation_id=conversation[x_in_a]),
        sent_message(
            y_in_a,
            T0 + 2 * MINUTE,
            campaign_a,
            attempt=2,
            conversation_id=conversation[y_in_a],
            sender="sender-2",
        ),
    ]
    flush = MessagesSent(messages=items, occurred_at=T0 + 6 * MINUTE)

    def reply(phone: str, at) -> MessageReceived:
        return MessageReceived(
            phone=phone,
            sender="sender-1",
            body="Tenho interesse",
            provider_message_id=f"in.{uuid4().hex[:8]}",
            at=at,
            occurred_at=at,
        )

    replies = {  # in before the sends: the flush must re-attribute them
        reply(doctor_x, T0 + 3 * MINUTE): x_in_a,
        reply(doctor_x, T0 + 10 * MINUTE): x_in_b,  # the later of doctor X's two sends
        reply(doctor_y, T0 + 4 * MINUTE): y_in_a,
    }
    before_the_sends: list[Event] = [
        requested(x_in_a, doctor_x, campaign_a),
        requested(y_in_a, doctor_y, campaign_a),
        requested(x_in_b, doctor_x, campaign_b),
        *replies,
    ]
    for event in before_the_sends:
        assert await project(pool, event, WINDOW)

    assert await projector(pool, flush)

    rows = {
        row["message_id"]: row
        for row in await pool.fetch(
            "SELECT message_id, campaign_id, conversation_id, state, sent_at, attempts, sender"
            " FROM messages"
        )
    }
    for item in items:
        row = rows[item.message_id]
        assert (row["state"], row["sent_at"], row["attempts"], row["sender"]) == (
            "sent",
            item.sent_at,
            item.attempt,
            item.sender,
        )
        assert (row["campaign_id"], row["conversation_id"]) == (
            item.campaign_id,
            conversation[item.message_id],
        )
    history = [tuple(row) for row in await pool.fetch(SENDS_HISTORY)]
    assert [h for h in history if h[1] == "sent"] == sorted(
        (m.message_id, "sent", m.sent_at, f"attempt {m.attempt} via {m.sender}") for m in items
    )
    attributed = {
        row["event_id"]: row["message_id"]
        for row in await pool.fetch("SELECT event_id, message_id FROM replies")
    }
    assert attributed == {r.event_id: message_id for r, message_id in replies.items()}

    projected = await snapshot(pool)
    assert not await projector(pool, flush)
    assert await snapshot(pool) == projected

    await forget_everything(pool)
    for event in before_the_sends:
        await project(pool, event, WINDOW)
    for item in reversed(items):
        await project(pool, MessagesSent(messages=[item], occurred_at=item.sent_at), WINDOW)
    one_at_a_time = await snapshot(pool)
    for table in ("messages", "replies", "campaigns"):
        assert one_at_a_time[table] == projected[table], table
    assert [tuple(row) for row in await pool.fetch(SENDS_HISTORY)] == history


# --- any stream, any split: the same rows -------------------------------------------------

SNAPSHOT = {
    "messages": "SELECT message_id, campaign_id, conversation_id, kind, sender, phone, state,"
    " attempts, requested_at, enqueued_at, sent_at, delivered_at, read_at, failed_at,"
    " last_error_code, last_error, dead, contact_name FROM messages ORDER BY message_id",
    "history": "SELECT * FROM message_history ORDER BY message_id, event_id",
    "replies": "SELECT * FROM replies ORDER BY event_id",
    "campaigns": "SELECT * FROM campaigns ORDER BY campaign_id",
    "inbox": "SELECT event_id FROM inbox WHERE consumer = 'reporting' ORDER BY event_id",
}


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[dict]]:
    return {name: [dict(r) for r in await pool.fetch(sql)] for name, sql in SNAPSHOT.items()}


async def forget_everything(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE messages, message_history, replies, campaigns, consent, inbox")


def mixed_stream(rng: random.Random) -> list[Event]:
    """A campaign's events for a few doctors, in a random order, some more than once: requests,
    enqueues and sends in batches, sends after failed attempts, dead and cancelled messages,
    statuses, and replies that fall before, between and after the sends."""
    campaign_id = uuid4()
    doctors = [f"+55119876500{i}" for i in range(3)]
    messages = [(uuid4(), rng.choice(doctors)) for _ in range(6)]
    events: list[Event] = [
        CampaignStarted(campaign_id=campaign_id, audience_size=6, occurred_at=T0)
    ]
    cut = rng.randint(1, len(messages) - 1)
    for part in (messages[:cut], messages[cut:]):
        events.append(
            MessagesRequested(
                occurred_at=T0 + rng.randint(0, 30) * MINUTE,
                messages=[
                    RequestedMessage(
                        message_id=message_id,
                        idempotency_key=str(message_id),
                        phone=phone,
                        kind=MessageKind.CAMPAIGN,
                        body="Oi",
                        campaign_id=campaign_id,
                        contact_name=f"Dr. {phone[-1]}",
                    )
                    for message_id, phone in part
                ],
            )
        )
        events.append(
            MessagesEnqueued(
                occurred_at=T0 + rng.randint(0, 30) * MINUTE,
                messages=[
                    EnqueuedMessage(
                        message_id=message_id,
                        campaign_id=campaign_id,
                        kind=MessageKind.CAMPAIGN,
                        sender=rng.choice(["sender-1", "sender-2", None]),
                    )
                    for message_id, _ in part
                ],
            )
        )
    sends: list[SentMessage] = []
    for message_id, _ in messages:
        at = T0 + rng.randint(20, 240) * MINUTE
        attempt = 1
        if rng.random() < 0.4:
            events.append(
                MessageFailed(
                    message_id=message_id,
                    campaign_id=campaign_id,
                    attempt=1,
                    error_code=rng.choice(["130429", "500"]),
                    error="busy",
                    retryable=True,
                    next_attempt_at=at,
                    occurred_at=at - MINUTE * rng.randint(0, 2),
                )
            )
            attempt = 2
        fate = rng.random()
        if fate < 0.15:
            events.append(
                MessageFailed(
                    message_id=message_id,
                    campaign_id=campaign_id,
                    attempt=attempt,
                    error_code="131026",
                    error="undeliverable",
                    retryable=False,
                    final=True,
                    occurred_at=at,
                )
            )
        elif fate < 0.25:
            events.append(
                MessageCancelled(
                    message_id=message_id,
                    campaign_id=campaign_id,
                    kind=MessageKind.CAMPAIGN,
                    reason="replied",
                    occurred_at=at,
                )
            )
        else:
            sends.append(sent_message(message_id, at, campaign_id, attempt=attempt))
            if rng.random() < 0.7:
                events.append(delivered(message_id, at + MINUTE))
                if rng.random() < 0.6:
                    events.append(
                        MessageRead(
                            message_id=message_id, provider_message_id="wamid.x", at=at + 2 * MINUTE
                        )
                    )
    while sends:  # the dispatcher reports its sends a flush at a time
        size = rng.randint(1, 3)
        flush, sends = sends[:size], sends[size:]
        events.append(MessagesSent(messages=flush, occurred_at=max(m.sent_at for m in flush)))
    for _ in range(rng.randint(2, 6)):
        at = T0 + rng.randint(0, 300) * MINUTE + timedelta(seconds=rng.randint(0, 59))
        events.append(
            MessageReceived(
                phone=rng.choice(doctors),
                sender="sender-1",
                body=rng.choice(["Sim, tenho interesse", "PARAR", "Qual o valor?"]),
                provider_message_id=f"in.{uuid4().hex[:8]}",
                at=at,
                occurred_at=at + timedelta(seconds=rng.randint(0, 3)),
            )
        )
    events += [rng.choice(events) for _ in range(3)]  # redeliveries
    rng.shuffle(events)
    return events


def split(rng: random.Random, events: list[Event]) -> list[list[Event]]:
    batches, start = [], 0
    while start < len(events):
        size = rng.choice([1, 2, 3, 5, 8, 13, 40])
        batches.append(events[start : start + size])
        start += size
    return batches


async def test_batches_end_where_one_by_one_projection_ends(pool: asyncpg.Pool) -> None:
    """30 streams (fixed seeds), each projected one by one, then again split into batches."""
    replies = 0
    for seed in range(30):
        rng = random.Random(seed)
        events = mixed_stream(rng)
        for event in events:
            await project(pool, event, WINDOW)
        one_by_one = await snapshot(pool)
        await forget_everything(pool)

        for batch in split(rng, events):
            await project_batch(pool, batch, WINDOW)
        in_batches = await snapshot(pool)
        await forget_everything(pool)

        replies += sum(r["message_id"] is not None for r in one_by_one["replies"])
        for table in SNAPSHOT:
            assert in_batches[table] == one_by_one[table], f"seed {seed}: {table}"
    assert replies, "no reply was attributed: nothing about attribution was checked"
