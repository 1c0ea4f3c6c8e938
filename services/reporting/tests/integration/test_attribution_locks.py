"""Reply attribution locks one doctor, not every projection: a send waits for a reply of the
same doctor still being projected, never for another doctor's."""

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import asyncpg
import pytest
from test_reporting_api import T0, requested, sent, sent_message

from disparo_reporting.attribution_locks import LOCK_SPACE, doctor_lock_keys, lock_doctors
from disparo_reporting.projections import project
from disparo_shared.events import MessagesSent
from disparo_shared.phone_digests import session_settings
from disparo_shared.settings import DatabaseSettings

WINDOW = timedelta(hours=72)
DOCTOR_A, DOCTOR_B = "+5511987650001", "+5511987650002"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    # a projection that would wait on a lock fails fast instead
    async with asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=3,
        server_settings={
            "search_path": "reporting",
            "lock_timeout": "300ms",
            **session_settings(DatabaseSettings().phone_digest_key),
        },
    ) as pool:
        yield pool


async def test_a_send_waits_only_for_its_own_doctor(pool: asyncpg.Pool) -> None:
    assert doctor_lock_keys([DOCTOR_A]) != doctor_lock_keys([DOCTOR_B])
    message_a, message_b, unrequested = uuid4(), uuid4(), uuid4()
    await project(pool, requested(message_a, DOCTOR_A), WINDOW)
    await project(pool, requested(message_b, DOCTOR_B), WINDOW)
    async with pool.acquire() as holder, holder.transaction():
        await lock_doctors(holder, [DOCTOR_A])  # doctor A's reply, being projected
        assert await project(pool, sent(message_b, T0 + timedelta(minutes=1)), WINDOW)
        # a send whose request is not projected yet has no doctor to wait for
        assert await project(pool, sent(unrequested, T0 + timedelta(minutes=1)), WINDOW)
        with pytest.raises(asyncpg.LockNotAvailableError):
            await project(pool, sent(message_a, T0 + timedelta(minutes=1)), WINDOW)
    assert await project(pool, sent(message_a, T0 + timedelta(minutes=1)), WINDOW)


async def test_a_flush_of_sends_waits_for_each_of_its_doctors(pool: asyncpg.Pool) -> None:
    message_a, message_b = uuid4(), uuid4()
    await project(pool, requested(message_a, DOCTOR_A), WINDOW)
    await project(pool, requested(message_b, DOCTOR_B), WINDOW)
    at = T0 + timedelta(minutes=1)
    flush = MessagesSent(
        messages=[sent_message(message_b, at), sent_message(message_a, at)], occurred_at=at
    )
    async with pool.acquire() as holder, holder.transaction():
        await lock_doctors(holder, [DOCTOR_A])  # doctor A's reply, being projected
        with pytest.raises(asyncpg.LockNotAvailableError):
            await project(pool, flush, WINDOW)
    assert await project(pool, flush, WINDOW)


async def test_a_request_batch_takes_its_doctors_locks_in_order(pool: asyncpg.Pool) -> None:
    phones = [f"+55119876{i:05d}" for i in range(600)]
    async with pool.acquire() as conn, conn.transaction():
        await lock_doctors(conn, reversed(phones))
        held = await conn.fetch(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND objsubid = 2 AND classid::bigint = $1::bigint",
            LOCK_SPACE,
        )
    assert sorted(int(r["objid"]) for r in held) == doctor_lock_keys(phones)
