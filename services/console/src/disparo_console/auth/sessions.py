"""Server-side sessions: a random cookie value, stored only as its sha256, with a CSRF token.

A session ends after ``idle`` without a request (sliding) or ``lifetime`` after login,
whichever comes first: with 60 minutes idle and 12 hours lifetime, a user active all day logs
in again after 12 hours, and one who walks away for an hour logs in again when back.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from disparo_console.db import SQL

COOKIE = "disparo_console_session"
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    token_hash: bytes
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_id: UUID
    username: str
    display_name: str
    role: str
    locale: str | None = None  # the user's interface language; None follows the browser


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def next_expiry(
    created_at: datetime, now: datetime, idle: timedelta, lifetime: timedelta
) -> datetime:
    return min(now + idle, created_at + lifetime)


async def open_session(
    pool: asyncpg.Pool, user_id: UUID, now: datetime, idle: timedelta, lifetime: timedelta
) -> str:
    """Start a session; answers the cookie value (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    await pool.execute(
        SQL.insert_session,
        token_hash(token),
        user_id,
        secrets.token_urlsafe(32),
        now,
        next_expiry(now, now, idle, lifetime),
    )
    return token


async def find_session(
    pool: asyncpg.Pool, token: str | None, now: datetime, idle: timedelta, lifetime: timedelta
) -> Session | None:
    """The live session of this cookie value, its expiry slid forward; None when there is none."""
    if not token:
        return None
    row = await pool.fetchrow(SQL.get_session, token_hash(token), now)
    if row is None:
        return None
    session = Session(**dict(row))
    if now - session.last_seen_at >= TOUCH_EVERY:
        await pool.execute(
            SQL.touch_session,
            session.token_hash,
            now,
            next_expiry(session.created_at, now, idle, lifetime),
        )
    return session


async def close_session(pool: asyncpg.Pool, token: str | None) -> None:
    if token:
        await pool.execute(SQL.delete_session, token_hash(token))
