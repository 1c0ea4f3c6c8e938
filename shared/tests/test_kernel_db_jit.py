"""Pooled connections run without JIT unless told: compiling a short statement costs more than
running it, and a plan's cost estimate grows with the tables until it crosses jit_above_cost."""

from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings


async def _jit_of_a_pooled_connection(database_url: str, **settings: bool) -> str:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=1, **settings), "public"
    )
    try:
        return await pool.fetchval("SHOW jit")
    finally:
        await pool.close()


async def test_pooled_connections_run_without_jit(database_url):
    assert await _jit_of_a_pooled_connection(database_url) == "off"


async def test_jit_is_on_where_asked(database_url):
    assert await _jit_of_a_pooled_connection(database_url, jit=True) == "on"
