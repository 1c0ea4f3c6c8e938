"""A message.sent event carries a dispatcher flush of sends: followup applies every one of them,
as it would one by one, and a redelivery of the batch changes nothing."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
from followup_harness import sent

from disparo_followup.conversations import apply, on_messages_sent
from disparo_shared.db import create_pool
from disparo_shared.events import MessageKind, MessagesSent, campaign_conversation_id
from disparo_shared.settings import DatabaseSettings

T0 = datetime(2026, 5, 4, 13, 0, tzinfo=UTC)


async def followup_state(db: asyncpg.Connection) -> tuple[list, list, list]:
    conversations = await db.fetch(
        "SELECT conversation_id, contact_id, campaign_id, last_outbound_at"
        " FROM followup.conversations ORDER BY conversation_id"
    )
    timeline = await db.fetch(
        "SELECT conversation_id, entry_key, direction, kind, at"
        " FROM followup.conversation_messages ORDER BY conversation_id, entry_key"
    )
    followups = await db.fetch(
        "SELECT message_id, sent_at FROM followup.followups ORDER BY message_id"
    )
    return (
        [tuple(r) for r in conversations],
        [tuple(r) for r in timeline],
        [tuple(r) for r in followups],
    )


async def test_a_batch_of_sends_is_applied_in_full_and_a_redelivery_changes_nothing(
    database_url: str, db: asyncpg.Connection
) -> None:
    campaign_a, campaign_b = uuid4(), uuid4()
    ana, bia = uuid4(), uuid4()
    ana_in_a = campaign_conversation_id(campaign_a, ana)
    bia_in_b = campaign_conversation_id(campaign_b, bia)
    ana_in_b = campaign_conversation_id(campaign_b, ana)
    followup_sent, followup_pending = uuid4(), uuid4()
    for conversation_id, message_id in ((ana_in_a, followup_sent), (bia_in_b, followup_pending)):
        await db.execute(
            "INSERT INTO followup.followups (conversation_id, stage, n, message_id, requested_at)"
            " VALUES ($1, 'primeiro_contato', 1, $2, $3)",
            conversation_id,
            message_id,
            T0,
        )
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "followup"
    )
    try:
        # Bia's conversation went out later than the batch's send to her: its time stays
        later_reply = sent(bia_in_b, MessageKind.REPLY, T0 + timedelta(hours=1))
        assert await apply(pool, MessagesSent(messages=[later_reply]))

        campaign_ana_a = sent(ana_in_a, MessageKind.CAMPAIGN, T0, campaign_a, ana)
        batch = MessagesSent(
            messages=[
                # Ana's follow-up first, her campaign message of three days before after it
                sent(ana_in_a, MessageKind.FOLLOWUP, T0 + timedelta(days=3), campaign_a, ana,
                     followup_sent),
                campaign_ana_a,
                sent(bia_in_b, MessageKind.CAMPAIGN, T0 + timedelta(minutes=1), campaign_b, bia),
                sent(ana_in_b, MessageKind.CAMPAIGN, T0 + timedelta(minutes=2), campaign_b, ana),
                # a message in no conversation moves no cadence and joins no timeline
                sent(None, MessageKind.CAMPAIGN, T0 + timedelta(minutes=3), campaign_b, uuid4()),
            ]
        )  # fmt: skip
        assert await apply(pool, batch)
        applied = await followup_state(db)

        conversations, timeline, followups = applied
        assert conversations == sorted(
            [
                (ana_in_a, ana, campaign_a, T0 + timedelta(days=3)),
                (bia_in_b, bia, campaign_b, T0 + timedelta(hours=1)),  # filled, not moved back
                (ana_in_b, ana, campaign_b, T0 + timedelta(minutes=2)),
            ]
        )
        by_kind = sorted((r[0], r[3], r[4]) for r in timeline)
        assert by_kind == sorted(
            [
                (ana_in_a, "followup", T0 + timedelta(days=3)),
                (ana_in_a, "campaign", T0),
                (bia_in_b, "reply", T0 + timedelta(hours=1)),
                (bia_in_b, "campaign", T0 + timedelta(minutes=1)),
                (ana_in_b, "campaign", T0 + timedelta(minutes=2)),
            ]
        )
        assert (ana_in_a, str(campaign_ana_a.message_id)) in {(r[0], r[1]) for r in timeline}
        assert dict(followups) == {
            followup_sent: T0 + timedelta(days=3),
            followup_pending: None,
        }

        # redelivered: the inbox skips it; applied again past the inbox, the writes add nothing
        assert not await apply(pool, batch)
        async with pool.acquire() as conn, conn.transaction():
            await on_messages_sent(conn, batch)
        assert await followup_state(db) == applied
    finally:
        await pool.close()


async def test_sends_of_one_message_in_a_batch_count_as_applied_in_time_order(
    db: asyncpg.Connection,
) -> None:
    """Named three times out of order (a resend): the latest send moves the cadence, the
    follow-up and its timeline entry keep the first."""
    campaign_id, contact_id, followup_id = uuid4(), uuid4(), uuid4()
    conversation_id = campaign_conversation_id(campaign_id, contact_id)
    await db.execute(
        "INSERT INTO followup.followups (conversation_id, stage, n, message_id, requested_at)"
        " VALUES ($1, 'primeiro_contato', 1, $2, $3)",
        conversation_id,
        followup_id,
        T0,
    )
    sends = [
        sent(conversation_id, MessageKind.FOLLOWUP, T0 + timedelta(minutes=m), campaign_id,
             contact_id, followup_id)
        for m in (5, 1, 3)
    ]  # fmt: skip
    async with db.transaction():
        await db.execute("SET LOCAL search_path TO followup")
        await on_messages_sent(db, MessagesSent(messages=sends))
    row = await db.fetchrow(
        "SELECT last_outbound_at FROM followup.conversations WHERE conversation_id = $1",
        conversation_id,
    )
    assert row["last_outbound_at"] == T0 + timedelta(minutes=5)
    assert await db.fetchval(
        "SELECT sent_at FROM followup.followups WHERE message_id = $1", followup_id
    ) == T0 + timedelta(minutes=1)
    entries = await db.fetch(
        "SELECT at FROM followup.conversation_messages WHERE conversation_id = $1", conversation_id
    )
    assert [r["at"] for r in entries] == [T0 + timedelta(minutes=1)]
