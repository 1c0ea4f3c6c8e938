"""Erased phones are remembered as keyed digests: not reversible by hashing every mobile, the
same in Python and in Postgres, and tombstones from before the key are rewritten at start."""

import hashlib

import asyncpg

from disparo_shared.db import create_pool
from disparo_shared.migrations import migrate
from disparo_shared.phone_digests import keyed_from_sha256, phone_digest, rekey_legacy_digests
from disparo_shared.settings import DatabaseSettings

KEY = "a-test-phone-digest-key-of-32-bytes-or-more"
OTHER_KEY = "another-phone-digest-key-of-32-bytes-or-more"
PHONE = "+5511987654321"


def test_the_digest_is_not_the_phones_plain_sha256():
    assert phone_digest(KEY, PHONE) != hashlib.sha256(PHONE.encode()).digest()


def test_a_digest_under_another_key_does_not_match():
    assert phone_digest(KEY, PHONE) != phone_digest(OTHER_KEY, PHONE)


def test_a_pre_key_sha256_rekeys_to_the_digest_of_its_phone():
    legacy = hashlib.sha256(PHONE.encode()).digest()
    assert keyed_from_sha256(KEY, legacy) == phone_digest(KEY, PHONE)


async def _schema_pool(database_url: str, tmp_path, key: str) -> asyncpg.Pool:
    (tmp_path / "001_tombstones.sql").write_text(
        "CREATE TABLE tombstones (phone_digest bytea PRIMARY KEY,"
        " digest_keyed boolean NOT NULL DEFAULT true);"
    )
    await migrate(database_url, "digests", tmp_path)
    return await create_pool(DatabaseSettings(url=database_url, phone_digest_key=key), "digests")


async def test_postgres_computes_the_same_digest_as_python(database_url, tmp_path):
    long_key = "k" * 100  # longer than SHA-256's block: HMAC hashes it first
    for key in (KEY, long_key):
        pool = await _schema_pool(database_url, tmp_path, key)
        try:
            in_sql = await pool.fetchval("SELECT phone_digest($1::text)", PHONE)
        finally:
            await pool.close()
        assert in_sql == phone_digest(key, PHONE)


async def test_pre_key_tombstones_are_rewritten_once_into_the_keyed_form(database_url, tmp_path):
    pool = await _schema_pool(database_url, tmp_path, KEY)
    legacy = hashlib.sha256(PHONE.encode()).digest()
    try:
        await pool.execute("INSERT INTO tombstones VALUES ($1, false)", legacy)
        async with pool.acquire() as conn:
            assert await rekey_legacy_digests(conn, ["tombstones"]) == 1
            assert await rekey_legacy_digests(conn, ["tombstones"]) == 0
        stored = await pool.fetchval("SELECT phone_digest FROM tombstones")
        matched = await pool.fetchval(
            "SELECT count(*) FROM tombstones WHERE phone_digest = phone_digest($1::text)", PHONE
        )
    finally:
        await pool.close()
    assert stored == phone_digest(KEY, PHONE)
    assert matched == 1


async def test_a_connection_under_another_key_does_not_recognise_the_phone(database_url, tmp_path):
    pool = await _schema_pool(database_url, tmp_path, KEY)
    try:
        await pool.execute("INSERT INTO tombstones VALUES (phone_digest($1::text))", PHONE)
    finally:
        await pool.close()
    other = await _schema_pool(database_url, tmp_path, OTHER_KEY)
    try:
        matched = await other.fetchval(
            "SELECT count(*) FROM tombstones WHERE phone_digest = phone_digest($1::text)", PHONE
        )
    finally:
        await other.close()
    assert matched == 0
