"""The scheduler starts due campaigns once; fan-out requests each recipient once, spread by day."""

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from disparo_campaign_api.campaigns.fanout import FanoutSettings, fan_out_next_chunk
from disparo_campaign_api.campaigns.handlers import (
    CreateCampaign,
    create_campaign,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
    start_campaign,
)
from disparo_campaign_api.campaigns.message_ids import campaign_message_id
from disparo_campaign_api.campaigns.outcomes import handle_message_failed, handle_message_sent
from disparo_campaign_api.campaigns.scheduler import scheduler_tick, start_due_campaigns
from disparo_campaign_api.campaigns.templates import DEFAULT_FALLBACKS, load_template
from disparo_campaign_api.contacts import outbound_messages
from disparo_campaign_api.testing import sent_message
from disparo_shared.db import create_pool
from disparo_shared.events import (
    MessageFailed,
    MessageKind,
    MessagesRequested,
    MessagesSent,
    campaign_conversation_id,
)
from disparo_shared.settings import DatabaseSettings

SP = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 11, 27, 10, tzinfo=SP)  # a Friday
ABC = {"field": "region", "op": "eq", "value": "ABC"}


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=6), "campaign_api"
    )
    yield pool
    await pool.close()


async def add_contacts(pool, n: int) -> None:
    await pool.execute(
        "INSERT INTO contacts (phone, name, specialty, region, attributes)"
        " SELECT '+55119' || lpad(g::text, 8, '0'), 'Dra. Ana ' || g, 'Anestesiologia', 'ABC',"
        " jsonb_build_object('hospital', 'H' || g) FROM generate_series(1, $1) g",
        n,
    )


async def create(pool, **fields) -> UUID:
    data = CreateCampaign(
        **{
            "name": "Plantões",
            "template": "Olá {primeiro_nome}, {attr.hospital}",
            "filter": ABC,
            "max_per_day": None,  # no daily cap unless a test sets one
            **fields,
        }
    )
    async with pool.acquire() as conn, conn.transaction():
        return UUID((await create_campaign(conn, data, NOW))["id"])


async def run(pool, handler, *args):
    async with pool.acquire() as conn, conn.transaction():
        return await handler(conn, *args)


async def drain_fanout(pool, settings: FanoutSettings, now=NOW) -> int:
    chunks = 0
    while await fan_out_next_chunk(pool, now, settings) is not None:
        chunks += 1
    return chunks


async def requested_messages(pool) -> list[dict]:
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = 'messages.requested' ORDER BY id"
    )
    return [m for r in rows for m in r["payload"]["messages"]]


async def test_scheduler_starts_only_due_campaigns_exactly_once(pool):
    await add_contacts(pool, 10)
    due = await create(pool)
    not_due = await create(pool)
    await run(pool, schedule_campaign, due, NOW + timedelta(minutes=5), NOW)
    await run(pool, schedule_campaign, not_due, NOW + timedelta(hours=5), NOW)
    assert await start_due_campaigns(pool, NOW) == []
    at = NOW + timedelta(minutes=5)
    replicas = await asyncio.gather(*(start_due_campaigns(pool, at) for _ in range(4)))
    assert sorted(c for started in replicas for c in started) == [due]
    states = dict(await pool.fetch("SELECT id, state FROM campaigns"))
    assert states == {due: "running", not_due: "scheduled"}
    assert (
        await pool.fetchval("SELECT count(*) FROM outbox WHERE subject = 'campaign.started'") == 1
    )


async def test_fanout_requests_every_recipient_once_in_bounded_batches(pool):
    await add_contacts(pool, 1200)
    cid = await create(pool, priority=4)
    await run(pool, start_campaign, cid, NOW)
    await pool.execute("UPDATE contacts SET opted_out_at = now() WHERE phone = '+5511900000007'")
    settings = FanoutSettings(chunk_size=500)
    assert await drain_fanout(pool, settings) == 3
    messages = await requested_messages(pool)
    assert len(messages) == 1199
    assert len({m["message_id"] for m in messages}) == 1199
    assert len({m["contact_id"] for m in messages}) == 1199
    batches = await pool.fetch("SELECT payload FROM outbox WHERE subject = 'messages.requested'")
    assert max(len(b["payload"]["messages"]) for b in batches) <= 500
    sample = messages[0]
    assert sample["kind"] == MessageKind.CAMPAIGN and sample["priority"] == 4
    assert sample["campaign_id"] == str(cid)
    assert sample["idempotency_key"] == f"campaign:{cid}:{sample['contact_id']}"
    assert sample["body"].startswith("Olá Dra., H")
    # each message opens the doctor's conversation for the campaign, the id every service derives
    for m in messages:
        assert m["conversation_id"] == str(campaign_conversation_id(cid, UUID(m["contact_id"])))
    # the doctor as targeted travels along, so reports never read this schema
    n = int(sample["phone"][-8:])
    assert sample["contact_name"] == f"Dra. Ana {n}"
    assert sample["recipient"] == {"specialty": "Anestesiologia", "region": "ABC"}
    stored_ids = {
        str(campaign_message_id(cid, NOW, r["seq"]))
        for r in await pool.fetch("SELECT seq FROM campaign_recipients WHERE status = 'pending'")
    }
    assert stored_ids == {m["message_id"] for m in messages}
    assert (
        await pool.fetchval("SELECT count(*) FROM campaign_recipients WHERE status = 'skipped'")
        == 1
    )
    # nothing left: another pass requests nothing
    assert await drain_fanout(pool, settings) == 0


async def test_fanout_events_carry_whatever_text_the_contacts_hold(pool):
    names = [
        'Ana "Aninha" Souza',
        "Zé \\ Barra/Dupla",
        "Bia\nSegunda\r\nLinha",
        "Controle\u0001\u001f\u007f",
        "Lu 😀 \u00a0Ñandú",
        "Sep\u2028\u2029",
        "Tab\tDentro",
        "</script>{nome}",
    ]
    await pool.executemany(
        "INSERT INTO contacts (phone, name, region, attributes)"
        " VALUES ($1, $2, 'ABC', jsonb_build_object('hospital', $2::text))",
        [(f"+5511977770{i:03d}", name) for i, name in enumerate(names)],
    )
    source = 'Olá {nome}, "{attr.hospital}" \\ {{ok}} {especialidade}'
    cid = await create(pool, template=source)
    await run(pool, start_campaign, cid, NOW)
    await drain_fanout(pool, FanoutSettings(chunk_size=3))
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = 'messages.requested' ORDER BY id"
    )
    messages = [m for r in rows for m in MessagesRequested.model_validate(r["payload"]).messages]
    template = load_template(source)
    contacts = await pool.fetch("SELECT id, name, phone FROM contacts")
    assert {m.contact_id: m.contact_name for m in messages} == {
        c["id"]: c["name"] for c in contacts
    }
    assert {m.contact_id: (m.phone, m.body) for m in messages} == {
        c["id"]: (
            c["phone"],
            template.render(
                {"name": c["name"], "attributes": {"hospital": c["name"]}}, DEFAULT_FALLBACKS
            ),
        )
        for c in contacts
    }
    seqs = await pool.fetch("SELECT seq, contact_id FROM campaign_recipients")
    assert {(m.message_id, m.contact_id) for m in messages} == {
        (campaign_message_id(cid, NOW, r["seq"]), r["contact_id"]) for r in seqs
    }
    assert {(m.kind, m.priority, m.campaign_id, m.max_attempts) for m in messages} == {
        (MessageKind.CAMPAIGN, 3, cid, 5)  # priority: the spec's campaign default
    }


async def test_fanout_spreads_not_before_by_max_per_day_and_window(pool):
    await add_contacts(pool, 700)
    cid = await create(
        pool,
        max_per_day=300,
        send_window={"start_hour": 9, "end_hour": 18, "days": [1, 2, 3, 4, 5]},
    )
    await run(pool, start_campaign, cid, NOW.replace(hour=20))  # Friday after the window closed
    await drain_fanout(pool, FanoutSettings(chunk_size=250))
    per_day = Counter(
        datetime.fromisoformat(m["not_before"]).astimezone(SP).isoformat()
        for m in await requested_messages(pool)
    )
    assert per_day == {
        "2026-11-30T09:00:00-03:00": 300,  # Monday
        "2026-12-01T09:00:00-03:00": 300,  # Tuesday
        "2026-12-02T09:00:00-03:00": 100,
    }


async def test_a_crashed_chunk_is_redone_with_the_same_message_ids(pool, monkeypatch):
    await add_contacts(pool, 10)
    cid = await create(pool)
    await run(pool, start_campaign, cid, NOW)
    settings = FanoutSettings(chunk_size=4)
    assert await fan_out_next_chunk(pool, NOW, settings) is not None
    ids_before = {
        str(campaign_message_id(cid, NOW, r["seq"]))
        for r in await pool.fetch("SELECT seq FROM campaign_recipients")
    }

    from disparo_campaign_api.campaigns import fanout

    real_sql = fanout.SQL

    class DiesAfterStaging:  # the chunk's events are staged, then the cursor update fails
        def __getattr__(self, name):
            return (
                "SELECT 1 / ($2::bigint - $2::bigint), $1::uuid, $3::timestamptz"
                if name == "advance_fanout"
                else getattr(real_sql, name)
            )

    monkeypatch.setattr(fanout, "SQL", DiesAfterStaging())
    with pytest.raises(asyncpg.DivisionByZeroError):
        await fan_out_next_chunk(pool, NOW, settings)
    assert await pool.fetchval("SELECT fanout_cursor FROM campaigns") == 4
    monkeypatch.setattr(fanout, "SQL", real_sql)
    await drain_fanout(pool, settings)
    messages = await requested_messages(pool)
    assert len(messages) == len({m["message_id"] for m in messages}) == 10
    assert {m["message_id"] for m in messages} == ids_before


async def test_pause_stops_fanout_and_resume_continues(pool):
    await add_contacts(pool, 30)
    cid = await create(pool)
    await run(pool, start_campaign, cid, NOW)
    settings = FanoutSettings(chunk_size=10)
    assert await fan_out_next_chunk(pool, NOW, settings) is not None
    await run(pool, pause_campaign, cid, NOW)
    assert await fan_out_next_chunk(pool, NOW, settings) is None
    await run(pool, resume_campaign, cid, NOW)
    assert await drain_fanout(pool, settings) == 2
    assert len(await requested_messages(pool)) == 30


async def test_completed_once_every_message_is_final(pool):
    await add_contacts(pool, 3)
    cid = await create(pool)
    await run(pool, start_campaign, cid, NOW)
    await drain_fanout(pool, FanoutSettings())
    ids = [UUID(m["message_id"]) for m in await requested_messages(pool)]

    def sent(mid):
        return MessagesSent(messages=[sent_message(mid, NOW, campaign_id=cid)])

    def failed(mid, final):
        return MessageFailed(
            message_id=mid,
            campaign_id=cid,
            attempt=1,
            error_code="x",
            error="x",
            retryable=not final,
            final=final,
        )

    await handle_message_sent(pool, sent(ids[0]), NOW)
    await handle_message_sent(pool, sent(ids[0]), NOW)  # redelivery
    await handle_message_failed(pool, failed(ids[1], final=False), NOW)  # will be retried
    assert await pool.fetchval("SELECT state FROM campaigns") == "running"
    await handle_message_failed(pool, failed(ids[1], final=True), NOW)
    await handle_message_sent(pool, sent(ids[2]), NOW)
    assert await pool.fetchval("SELECT state FROM campaigns") == "completed"
    await scheduler_tick(pool, NOW, "America/Sao_Paulo")  # the sweep finds nothing more to do
    assert (
        await pool.fetchval("SELECT count(*) FROM outbox WHERE subject = 'campaign.completed'") == 1
    )
    assert dict(
        await pool.fetch("SELECT status, count(*) FROM campaign_recipients GROUP BY 1")
    ) == {"sent": 2, "failed": 1}


async def test_a_batch_of_sends_is_applied_in_full_and_only_once(pool):
    """One ``message.sent`` is a flush of the dispatcher: here the sends of two campaigns to the
    same two doctors, each doctor twice, the later send first. Every recipient is marked, both
    campaigns complete, each doctor keeps the later send; redelivered, the event changes nothing.
    """
    await add_contacts(pool, 2)
    first, second = await create(pool), await create(pool)
    await run(pool, start_campaign, first, NOW)
    await run(pool, start_campaign, second, NOW)
    await drain_fanout(pool, FanoutSettings())
    requested = sorted(
        await requested_messages(pool), key=lambda m: m["campaign_id"] != str(second)
    )
    sent_at = {str(first): NOW, str(second): NOW + timedelta(minutes=5)}
    sends = [
        sent_message(
            m["message_id"],
            sent_at[m["campaign_id"]],
            campaign_id=m["campaign_id"],
            contact_id=m["contact_id"],
            conversation_id=m["conversation_id"],
        )
        for m in requested
    ]
    assert len({(s.campaign_id, s.contact_id, s.conversation_id) for s in sends}) == 4
    no_campaign = sent_message(uuid4(), NOW + timedelta(hours=1))  # a reply to an unknown phone
    event = MessagesSent(messages=[*sends, sends[0], no_campaign])

    async def state() -> tuple:
        recipients = await pool.fetch(
            "SELECT campaign_id, seq, status, finished_at FROM campaign_recipients ORDER BY 1, 2"
        )
        campaigns = await pool.fetch(
            "SELECT id, state, completed_at, updated_at FROM campaigns ORDER BY id"
        )
        completions = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE subject = 'campaign.completed'"
        )
        contacts = await pool.fetch(
            "SELECT id, xmin::text, last_outbound_at, last_contact_at FROM contacts ORDER BY id"
        )
        return recipients, campaigns, completions, contacts

    await handle_message_sent(pool, event, NOW)
    await outbound_messages.handle_message_sent(pool, event)
    recipients, campaigns, completions, contacts = await state()
    assert [(r["status"], r["finished_at"]) for r in recipients] == [("sent", NOW)] * 4
    assert [c["state"] for c in campaigns] == ["completed", "completed"]
    assert completions == 2
    latest = NOW + timedelta(minutes=5)
    assert [(c["last_outbound_at"], c["last_contact_at"]) for c in contacts] == [
        (latest, latest)
    ] * 2

    later = NOW + timedelta(hours=2)
    await handle_message_sent(pool, event, later)  # redelivered
    await outbound_messages.handle_message_sent(pool, event)
    assert await state() == (recipients, campaigns, completions, contacts)


async def test_sweep_completes_an_empty_audience_campaign(pool):
    cid = await create(pool)
    await run(pool, start_campaign, cid, NOW)
    await scheduler_tick(pool, NOW, "America/Sao_Paulo")
    assert await pool.fetchval("SELECT state FROM campaigns WHERE id = $1", cid) == "completed"


async def test_fanout_ids_are_time_ordered_by_start_then_seq(pool):
    await add_contacts(pool, 20)
    first, second = await create(pool), await create(pool)
    await run(pool, start_campaign, first, NOW)
    await run(pool, start_campaign, second, NOW + timedelta(milliseconds=1))
    await drain_fanout(pool, FanoutSettings(chunk_size=7))
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = 'messages.requested' ORDER BY id"
    )
    messages = [m for r in rows for m in MessagesRequested.model_validate(r["payload"]).messages]
    seq_of = {
        (r["campaign_id"], r["contact_id"]): r["seq"]
        for r in await pool.fetch("SELECT campaign_id, contact_id, seq FROM campaign_recipients")
    }
    in_order = sorted(
        messages, key=lambda m: (m.campaign_id != first, seq_of[m.campaign_id, m.contact_id])
    )
    assert [m.message_id for m in in_order] == sorted(m.message_id for m in messages)
    assert {m.message_id.version for m in messages} == {7}


async def test_sql_conversation_ids_equal_the_shared_rule(pool):
    pairs = await pool.fetch(
        "SELECT gen_random_uuid() AS campaign_id, gen_random_uuid() AS contact_id"
        " FROM generate_series(1, 500)"
    )
    computed = await pool.fetch(
        "SELECT campaign_conversation_id(a, b) FROM unnest($1::uuid[], $2::uuid[]) AS p(a, b)",
        [p["campaign_id"] for p in pairs],
        [p["contact_id"] for p in pairs],
    )
    assert [r[0] for r in computed] == [
        campaign_conversation_id(p["campaign_id"], p["contact_id"]) for p in pairs
    ]


async def test_outcomes_of_ids_issued_before_time_ordering_still_complete_the_campaign(pool):
    await add_contacts(pool, 2)
    cid = await create(pool)
    await run(pool, start_campaign, cid, NOW)
    await drain_fanout(pool, FanoutSettings())
    prefix = cid.int >> 68  # the version-8 layout: campaign bits, then seq
    high = ((prefix >> 12) << 16) | (8 << 12) | (prefix & 0xFFF)
    for seq in (1, 2):
        legacy_id = UUID(int=(high << 64) | (0b10 << 62) | seq)
        event = MessagesSent(messages=[sent_message(legacy_id, NOW, campaign_id=cid)])
        await handle_message_sent(pool, event, NOW)
    assert await pool.fetchval("SELECT state FROM campaigns") == "completed"
