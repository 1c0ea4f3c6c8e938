"""Table care against real Postgres with autovacuum off for the queue: the dispatcher analyses
a bulk-loaded queue and vacuums a churned one itself, one replica at a time."""

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from disparo_dispatcher import table_care
from disparo_dispatcher.table_care import CareAction, CarePolicy
from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually

POLICY = CarePolicy(min_rows=1_000, fraction=0.05)
ROWS = 5_000


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=3), "dispatcher"
    )
    # As on a server with autovacuum off: nobody but the dispatcher tends the queue.
    await pool.execute("ALTER TABLE messages SET (autovacuum_enabled = false)")
    await pool.execute("ALTER TABLE recipients SET (autovacuum_enabled = false)")
    await pool.execute("ALTER TABLE outbox SET (autovacuum_enabled = false)")
    yield pool
    await pool.close()


async def on_own_connection(database_url: str, statement: str) -> None:
    """Run a statement on a connection that then closes: a backend flushes its table
    statistics when it exits, so the change is visible to the next reader."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatcher"})
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def load_queued_messages(database_url: str, count: int) -> None:
    await on_own_connection(
        database_url,
        f"""
        INSERT INTO messages (message_id, idempotency_key, phone, kind, body, priority, time_zone,
                              state, due_at, rank_at, max_attempts, sender_id, requested_at,
                              enqueued_at)
        SELECT gen_random_uuid(), 'bulk:' || i, '+5511' || (900000000 + i), 'campaign', 'Olá',
               3, 'America/Sao_Paulo', 'queued', now(), now() + i * interval '1 ms', 5, 's1',
               now(), now()
        FROM generate_series(1, {count}) AS i
        """,
    )


async def churn_of(pool: asyncpg.Pool, table: str) -> table_care.TableChurn | None:
    async with pool.acquire() as conn:
        return next((c for c in await table_care.read_churn(conn) if c.table == table), None)


async def until_counted(
    pool: asyncpg.Pool, table: str, seen: Callable[[table_care.TableChurn], bool]
) -> None:
    """Wait for the statistics to show a change made on another connection."""

    async def counted() -> bool:
        churn = await churn_of(pool, table)
        return churn is not None and seen(churn)

    await eventually(counted, timeout=30)


async def test_a_bulk_loaded_queue_is_analysed_by_the_dispatcher(pool, database_url):
    await load_queued_messages(database_url, ROWS)

    await until_counted(pool, "messages", lambda churn: churn.changed_since_analyze >= ROWS)

    assert await table_care.tend_tables(pool, POLICY) == {"messages": CareAction.ANALYZE}
    estimated = await pool.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass"
    )
    assert estimated == ROWS  # the planner now knows the backlog
    assert await table_care.tend_tables(pool, POLICY) == {}  # and nothing is left to do


async def test_a_churned_queue_is_vacuumed_by_the_dispatcher(pool, database_url):
    await load_queued_messages(database_url, ROWS)
    await on_own_connection(database_url, "UPDATE messages SET state = 'sent', sent_at = now()")

    await until_counted(pool, "messages", lambda churn: churn.dead >= ROWS)

    assert await table_care.tend_tables(pool, POLICY) == {"messages": CareAction.VACUUM}
    after = await churn_of(pool, "messages")
    assert after is not None and after.dead == 0 and after.changed_since_analyze == 0


async def test_an_outbox_its_relay_has_emptied_is_vacuumed_by_the_dispatcher(pool, database_url):
    await on_own_connection(
        database_url,
        f"""
        INSERT INTO outbox (event_id, subject, payload, headers)
        SELECT gen_random_uuid(), 'message.sent', '{{}}', '{{}}' FROM generate_series(1, {ROWS});
        DELETE FROM outbox;
        """,
    )

    await until_counted(pool, "outbox", lambda churn: churn.dead >= ROWS)

    assert await table_care.tend_tables(pool, POLICY) == {"outbox": CareAction.VACUUM}
    after = await churn_of(pool, "outbox")
    assert after is not None and after.dead == 0


async def test_one_replica_tends_the_tables_at_a_time(pool, database_url):
    await load_queued_messages(database_url, ROWS)

    await until_counted(pool, "messages", lambda churn: churn.changed_since_analyze >= ROWS)
    other_replica = await asyncpg.connect(
        database_url, server_settings={"search_path": "dispatcher"}
    )
    try:
        assert await other_replica.fetchval(table_care.SQL.try_care_lock, "hot")
        assert await table_care.tend_tables(pool, POLICY) == {}  # its turn is skipped
    finally:
        await other_replica.close()  # the lock goes with the session
    assert await table_care.tend_tables(pool, POLICY) == {"messages": CareAction.ANALYZE}
