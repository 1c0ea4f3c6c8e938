"""Intake of ``messages.requested``: an urgent reply, on ``messages.requested.urgent``, does not
wait for a campaign's events that are ahead of it in the stream, and the urgent consumer never
pulls those. Each event's wait since JetStream stored it and its handler's time are observed by
consumer."""

from uuid import uuid4

import asyncpg
import nats
from dispatcher_harness import dispatcher, evolution_sender, message, phone, request, simulator
from prometheus_client import REGISTRY

from disparo_shared.events import subjects
from disparo_shared.streams import stream_name
from disparo_shared.testing.fixtures import eventually


async def _delivered_by_urgent_consumer(nats_settings) -> int:
    """Events the dispatcher's urgent consumer has been handed so far."""
    nc = await nats.connect(nats_settings.url)
    try:
        info = await nc.jetstream().consumer_info(
            stream_name(nats_settings.stream_prefix, subjects.STREAM_COMMANDS),
            "dispatcher-urgent-requests",
        )
        return info.delivered.consumer_seq
    finally:
        await nc.close()


def _observed(histogram: str, consumer: str) -> float:
    """Events observed so far by a dispatcher intake histogram (this process's registry)."""
    name = f"disparo_dispatcher_intake_{histogram}_seconds_count"
    return REGISTRY.get_sample_value(name, {"consumer": consumer}) or 0.0


async def _state(db, message_id) -> str | None:
    return await db.fetchval(
        "SELECT state FROM dispatcher.all_messages WHERE message_id = $1", message_id
    )


async def test_an_urgent_reply_is_sent_while_the_campaign_events_ahead_of_it_are_stuck(
    kernel_settings, db, database_url
):
    campaign_id = uuid4()
    before = {
        (histogram, consumer): _observed(histogram, consumer)
        for histogram in ("wait", "handler")
        for consumer in ("urgent", "requests")
    }

    def observed_since(histogram: str, consumer: str) -> float:
        return _observed(histogram, consumer) - before[histogram, consumer]

    async with simulator() as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]):
            # The campaign's control row, locked by someone else: persisting its events waits
            # (their place in the campaign's lane is reserved on that row), and so does the
            # in-turn intake behind them.
            await db.execute(
                "INSERT INTO dispatcher.campaigns (campaign_id) VALUES ($1)", campaign_id
            )
            holder = await asyncpg.connect(database_url)
            locked = holder.transaction()
            await locked.start()
            try:
                await holder.execute(
                    "SELECT 1 FROM dispatcher.campaigns WHERE campaign_id = $1 FOR UPDATE",
                    campaign_id,
                )
                campaign = [
                    message(phone(n), campaign_id=campaign_id, priority=3) for n in range(30)
                ]
                for start in range(0, 30, 10):  # three events, more than one pull takes
                    await request(kernel_settings.nats, *campaign[start : start + 10])
                reply = message(phone(99), kind="reply", priority=8)
                await request(kernel_settings.nats, reply)

                async def reply_sent():
                    return await _state(db, reply.message_id) == "sent"

                await eventually(reply_sent)
                assert await _state(db, campaign[0].message_id) is None  # still waiting
                # the reply alone went through the urgent consumer, none of the campaign's
                assert await _delivered_by_urgent_consumer(kernel_settings.nats) == 1
                assert observed_since("wait", "urgent") == 1
                assert observed_since("handler", "urgent") == 1
                assert observed_since("handler", "requests") == 0  # none has finished
            finally:
                await locked.rollback()
                await holder.close()

            async def campaign_sent():
                return await db.fetchval(
                    "SELECT count(*) FROM dispatcher.all_messages "
                    "WHERE campaign_id = $1 AND state = 'sent'",
                    campaign_id,
                ) == len(campaign)

            await eventually(campaign_sent, timeout=30)
            assert await _delivered_by_urgent_consumer(kernel_settings.nats) == 1
            assert observed_since("handler", "requests") == 3
            assert observed_since("wait", "requests") == 3
    assert sim.stats()["duplicates"] == 0
    assert sim.stats()["accepted"] == len(campaign) + 1


async def test_a_queued_reply_wakes_the_claim_instead_of_waiting_for_its_interval(
    kernel_settings, db
):
    async with simulator() as sim:
        # Claims an hour apart: the first one ran as the replica started, before it held its
        # sender; only the commit that queues a reply can bring the next one sooner.
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "sim-1")], claim_interval_seconds=3600.0
        ):

            async def sender_held():
                return await db.fetchval(
                    "SELECT lease_owner IS NOT NULL FROM dispatcher.senders"
                    " WHERE sender_id = 'sim-1'"
                )

            await eventually(sender_held)
            campaign = message(phone(1), priority=3)
            await request(kernel_settings.nats, campaign)

            async def campaign_queued():
                return await _state(db, campaign.message_id) == "queued"

            await eventually(campaign_queued)
            reply = message(phone(2), kind="reply", priority=8)
            await request(kernel_settings.nats, reply)

            async def both_sent():
                return {
                    await _state(db, reply.message_id),
                    await _state(db, campaign.message_id),
                } == {"sent"}

            # The reply's claim takes what else is due for the sender as well.
            await eventually(both_sent, timeout=20)
    assert sim.stats()["accepted"] == 2
