"""The asyncpg pool of a service, bound to that service's own Postgres schema."""

import json
from typing import Any

import asyncpg

from disparo_shared.phone_digests import session_settings
from disparo_shared.settings import DatabaseSettings


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so queries never hand-serialise.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class BoundedPool(asyncpg.Pool):
    """An asyncpg pool whose ``acquire`` waits at most ``acquire_timeout`` unless told."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def create_pool(settings: DatabaseSettings, schema: str) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in ``schema`` (then ``public``),
    with every wait bounded: acquiring a connection, a statement, an idle transaction. Each
    connection also holds what ``phone_digest(text)`` needs (the startup packet, never a logged
    statement)."""
    pool = BoundedPool(
        settings.url,
        acquire_timeout=settings.acquire_timeout_seconds,
        init_size=None,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        init=_init_connection,
        server_settings={
            "search_path": f"{schema},public",
            "application_name": f"disparo-{schema}",
            "statement_timeout": str(int(settings.statement_timeout_seconds * 1000)),
            "idle_in_transaction_session_timeout": str(
                int(settings.idle_in_transaction_timeout_seconds * 1000)
            ),
            **session_settings(settings.phone_digest_key),
        },
    )
    return await pool
