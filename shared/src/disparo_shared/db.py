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


class PooledConnection(asyncpg.Connection):
    """A pool's connection, handed back as it is: no reset statement on every release.

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    each time a connection goes back to the pool, to undo session state. None of our code
    leaves any on a pooled connection (advisory locks are transaction-scoped but for the two
    session locks ``release_session_lock`` gives back, ``SET LOCAL`` ends with its
    transaction, there are no cursors held past one, and the outbox relay's ``LISTEN``
    connection unlistens before it goes back), and the statement cost ~65 µs in the client and
    ~40 µs in the backend per release: the dispatcher acquires a connection a hundred times a
    second and more. asyncpg still rolls back a transaction left open and drops the listener
    callbacks on release. Code that ever sets session state on a pooled connection must undo it
    itself before releasing.
    """

    def get_reset_query(self) -> str:
        return ""


async def release_session_lock(conn: asyncpg.Connection, unlock: str, *args: Any) -> None:
    """Give back a session-level advisory lock taken on a pooled connection; if the unlock
    cannot run (the task was cancelled mid-query, the connection broke), close the connection,
    which ends its session and the lock with it: pooled connections are not reset on release,
    so a lock left behind would stay held for as long as the pool keeps the connection."""
    try:
        await conn.fetchval(unlock, *args)
    except BaseException:
        conn.terminate()
        raise


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
        connection_class=PooledConnection,
        record_class=asyncpg.Record,
        init=_init_connection,
        server_settings={
            "search_path": f"{schema},public",
            "application_name": f"disparo-{schema}",
            "jit": "on" if settings.jit else "off",
            "statement_timeout": str(int(settings.statement_timeout_seconds * 1000)),
            "idle_in_transaction_session_timeout": str(
                int(settings.idle_in_transaction_timeout_seconds * 1000)
            ),
            **session_settings(settings.phone_digest_key),
        },
    )
    return await pool
