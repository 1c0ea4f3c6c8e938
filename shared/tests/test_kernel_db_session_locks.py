"""Pooled connections are not reset on release: a session-level advisory lock must be given back
by ``release_session_lock``, which closes the connection when it cannot (the session ends and
the server drops the lock with it)."""

import asyncpg
import pytest

from disparo_shared.db import create_pool, release_session_lock
from disparo_shared.settings import DatabaseSettings

LOCK = 7_140_001
UNLOCK = "SELECT pg_advisory_unlock($1)"


async def _free_elsewhere(database_url: str) -> bool:
    """Whether another session can take the lock now (and gives it back)."""
    other = await asyncpg.connect(database_url)
    try:
        taken = await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK)
        if taken:
            await other.fetchval(UNLOCK, LOCK)
        return taken
    finally:
        await other.close()


async def test_a_lock_given_back_leaves_the_connection_in_the_pool(database_url):
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=1), "public")
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK)
            assert not await _free_elsewhere(database_url)
            await release_session_lock(conn, UNLOCK, LOCK)
            assert not conn.is_closed()
        assert await _free_elsewhere(database_url)
    finally:
        await pool.close()


async def test_a_lock_that_cannot_be_given_back_goes_with_its_connection(database_url):
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=1), "public")
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK)
            with pytest.raises(asyncpg.DivisionByZeroError):  # the unlock failing, for any cause
                await release_session_lock(conn, "SELECT $1::bigint / 0", LOCK)
        assert await _free_elsewhere(database_url)
        assert await pool.fetchval("SELECT 1") == 1  # the pool opens a new connection
    finally:
        await pool.close()
