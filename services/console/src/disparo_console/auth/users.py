"""Console users: create, list, change access, log in (with the rate limit), first admin."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from disparo_console.auth.login_limit import RecentFailures, retry_after
from disparo_console.auth.passwords import (
    DUMMY_HASH,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from disparo_console.auth.roles import Role
from disparo_console.db import SQL
from disparo_console.settings import ConsoleSettings

FIRST_ADMIN = "admin"


@dataclass(frozen=True)
class LoginOutcome:
    user_id: UUID | None
    retry_after: timedelta | None = None


async def create_user(
    conn: asyncpg.Connection | asyncpg.Pool,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    now: datetime,
) -> dict | None:
    """The new user, or None when the user name is taken."""
    row = await conn.fetchrow(
        SQL.insert_user,
        uuid.uuid4(),
        username,
        display_name,
        role.value,
        hash_password(password),
        now,
    )
    return dict(row) if row else None


async def list_users(pool: asyncpg.Pool) -> list[dict]:
    return [dict(r) for r in await pool.fetch(SQL.list_users)]


async def change_access(
    pool: asyncpg.Pool, user_id: UUID, role: Role, active: bool, now: datetime
) -> dict | None:
    """Change role and access; the user's sessions end so the change holds at once."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(SQL.update_user_access, user_id, role.value, active, now)
        if row is not None:
            await conn.execute(SQL.end_user_sessions, user_id)
    return dict(row) if row else None


async def log_in(
    pool: asyncpg.Pool,
    username: str,
    password: str,
    address: str,
    now: datetime,
    settings: ConsoleSettings,
) -> LoginOutcome:
    """Check the password unless the rate limit holds; every failure is counted."""
    window = timedelta(minutes=settings.login_window_minutes)
    counts = await pool.fetchrow(SQL.recent_login_failures, username, address, now - window)
    wait = retry_after(
        RecentFailures(**dict(counts)),
        now,
        window,
        settings.login_max_failures_per_user,
        settings.login_max_failures_per_address,
    )
    if wait is not None:
        return LoginOutcome(None, retry_after=wait)
    user = await pool.fetchrow(SQL.get_user_for_login, username)
    ok = verify_password(user["password_hash"] if user else DUMMY_HASH, password)
    if not (ok and user and user["active"]):
        await pool.execute(SQL.insert_login_failure, username, address, now)
        return LoginOutcome(None)
    await pool.execute(SQL.clear_login_failures, username)
    if needs_rehash(user["password_hash"]):
        await pool.execute(SQL.update_password_hash, user["id"], hash_password(password), now)
    return LoginOutcome(user["id"])


async def ensure_first_admin(pool: asyncpg.Pool, now: datetime) -> str | None:
    """Create the user ``admin`` with a random password when there is no user at all.

    Answers that password (to be shown once), or None when users exist already.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")
        if await conn.fetchval(SQL.count_users):
            return None
        password = generate_password()
        await create_user(conn, FIRST_ADMIN, "Administrador", Role.ADMIN, password, now)
        return password
