"""The asyncpg pool of a service, bound to that service's own Postgres schema."""

import json

import asyncpg

from disparo_shared.settings import DatabaseSettings


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so queries never hand-serialise.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: DatabaseSettings, schema: str) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in ``schema`` (then ``public``)."""
    return await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        server_settings={
            "search_path": f"{schema},public",
            "application_name": f"disparo-{schema}",
        },
        init=_init_connection,
    )
