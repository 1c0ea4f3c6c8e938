"""A doctor erased while their campaign fans out: never requested afterwards, no phone kept.

``campaign_recipients`` holds bare contact ids; fan-out reads the phone from the contact row,
which the erasure deletes, so a recipient not yet fanned out is skipped. One already requested
ends when the dispatcher announces it failed for good (``contact_erased``), and the campaign
completes.
"""

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from disparo_campaign_api.campaigns.fanout import FanoutSettings, fan_out_next_chunk
from disparo_campaign_api.campaigns.handlers import CreateCampaign, create_campaign, start_campaign
from disparo_campaign_api.campaigns.outcomes import handle_message_failed, handle_message_sent
from disparo_campaign_api.contacts.privacy import erase_contact
from disparo_campaign_api.testing import sent_message
from disparo_shared.db import create_pool
from disparo_shared.events import MessageFailed, MessagesSent
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 27, 10, tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "campaign_api"
    )
    yield pool
    await pool.close()


async def _requested(pool) -> list[dict]:
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = 'messages.requested' ORDER BY id"
    )
    return [m for r in rows for m in r["payload"]["messages"]]


async def _tables_holding(pool, text: str) -> list[str]:
    """campaign-api tables (the outbox aside: events on their way out) whose rows hold ``text``."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'campaign_api'"
        " AND table_type = 'BASE TABLE' AND table_name <> 'outbox'"
    )
    return [
        t["table_name"]
        for t in tables
        if await pool.fetchval(
            f'SELECT count(*) FROM campaign_api."{t["table_name"]}" x'
            " WHERE strpos(x::text, $1) > 0",
            text,
        )
    ]


async def test_a_doctor_erased_during_fanout_is_skipped_and_the_campaign_completes(pool):
    await pool.execute(
        "INSERT INTO contacts (phone, name, region)"
        " SELECT '+55119' || lpad(g::text, 8, '0'), 'Dra. Ana ' || g, 'ABC'"
        " FROM generate_series(1, 4) g"
    )
    data = CreateCampaign(
        name="Plantões",
        template="Olá {primeiro_nome}",
        filter={"field": "region", "op": "eq", "value": "ABC"},
        max_per_day=None,
    )
    async with pool.acquire() as conn, conn.transaction():
        cid = UUID((await create_campaign(conn, data, NOW))["id"])
        await start_campaign(conn, cid, NOW)
    audience = {
        r["seq"]: (r["contact_id"], r["phone"])
        for r in await pool.fetch(
            "SELECT r.seq, r.contact_id, c.phone FROM campaign_recipients r"
            " JOIN contacts c ON c.id = r.contact_id"
        )
    }
    settings = FanoutSettings(chunk_size=2)
    await fan_out_next_chunk(pool, NOW, settings)  # seq 1 and 2 requested
    early, late = audience[1], audience[3]  # erased after / before their request
    for contact_id, _ in (early, late):
        async with pool.acquire() as conn, conn.transaction():
            await erase_contact(conn, contact_id, NOW)
    while await fan_out_next_chunk(pool, NOW, settings) is not None:
        pass

    requested = await _requested(pool)
    assert [UUID(m["contact_id"]) for m in requested] == [audience[s][0] for s in (1, 2, 4)]
    statuses = dict(await pool.fetch("SELECT contact_id, status FROM campaign_recipients"))
    assert statuses[late[0]] == "skipped"
    for _, phone in (early, late):
        assert await _tables_holding(pool, phone.lstrip("+")) == []

    for m in requested:  # what the dispatcher announces: the erased doctor's is never sent
        mid = UUID(m["message_id"])
        if UUID(m["contact_id"]) == early[0]:
            await handle_message_failed(
                pool,
                MessageFailed(
                    message_id=mid,
                    campaign_id=cid,
                    attempt=0,
                    error_code="contact_erased",
                    error="not sent: the contact was erased",
                    retryable=False,
                    final=True,
                ),
                NOW,
            )
        else:
            await handle_message_sent(
                pool, MessagesSent(messages=[sent_message(mid, NOW, campaign_id=cid)]), NOW
            )
    assert await pool.fetchval("SELECT state FROM campaigns WHERE id = $1", cid) == "completed"
