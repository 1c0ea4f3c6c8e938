"""Every wait on Postgres is bounded: acquiring a connection, a statement, an idle transaction."""

import asyncio

import asyncpg
import pytest

from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings


def _settings(database_url: str, **timeouts: float) -> DatabaseSettings:
    return DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=1, **timeouts)


async def test_acquire_gives_up_when_every_connection_is_held(database_url):
    pool = await create_pool(_settings(database_url, acquire_timeout_seconds=0.3), "public")
    try:
        async with pool.acquire():
            with pytest.raises(TimeoutError):
                async with pool.acquire():
                    pass
    finally:
        await pool.close()


async def test_a_statement_past_the_timeout_is_cancelled_by_the_server(database_url):
    pool = await create_pool(_settings(database_url, statement_timeout_seconds=0.2), "public")
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.execute("SELECT pg_sleep(5)")
    finally:
        await pool.close()


async def test_a_transaction_left_idle_is_ended_and_its_locks_released(database_url):
    pool = await create_pool(
        _settings(database_url, idle_in_transaction_timeout_seconds=0.3), "public"
    )
    try:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("SELECT 1")
            await asyncio.sleep(1.0)  # a stuck holder: the server ends the session
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
                await conn.execute("SELECT 1")
    finally:
        pool.terminate()
