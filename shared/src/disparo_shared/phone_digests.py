"""Keyed digests of phone numbers: how an erasure is remembered without keeping the phone.

A tombstone (the dispatcher's ``erased_contacts``, followup's and reporting's ``erased_phones``)
must let a late event about an erased doctor be recognised, yet not give the phone back. A plain
SHA-256 would: Brazil has ~10^9 mobile numbers, hashed in minutes on a laptop. So the digest is
``HMAC-SHA256(DISPARO_PHONE_DIGEST_KEY, SHA-256(phone))``, the key a per-deployment secret that
lives in the services' Secrets, never in the database.

Why the inner SHA-256: tombstones written before the key existed hold ``SHA-256(phone)``, and
those can be turned into the keyed form without the phone (``rekey_legacy_digests``, run by each
service at start). Example: phone ``+5511987654321`` → sha256 ``a1b2…`` → HMAC under the key.

Postgres computes the same digest (the kernel's ``phone_digest(text)`` function) from the HMAC's
two padded keys, which each pooled connection receives at start-up as the custom settings
``disparo.phone_digest_inner``/``_outer`` (``db.create_pool``): statements compare digests
set-wise without the key in any parameter, and pgcrypto is not needed.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence

import asyncpg

BLOCK_BYTES = 64  # SHA-256's block size: HMAC pads its key to it
INNER_SETTING = "disparo.phone_digest_inner"
OUTER_SETTING = "disparo.phone_digest_outer"


def _padded_key(key: str) -> bytes:
    raw = key.encode()
    if len(raw) > BLOCK_BYTES:
        raw = hashlib.sha256(raw).digest()
    return raw.ljust(BLOCK_BYTES, b"\0")


def keyed_from_sha256(key: str, phone_sha256: bytes) -> bytes:
    """The keyed digest of a phone known only by its SHA-256 (a tombstone from before the key)."""
    return hmac.new(key.encode(), phone_sha256, hashlib.sha256).digest()


def phone_digest(key: str, phone: str) -> bytes:
    """``HMAC-SHA256(key, SHA-256(phone))``: what a tombstone stores for ``phone``."""
    return keyed_from_sha256(key, hashlib.sha256(phone.encode()).digest())


def session_settings(key: str) -> Mapping[str, str]:
    """The Postgres settings from which ``phone_digest(text)`` computes the same HMAC in SQL."""
    padded = _padded_key(key)
    inner = bytes(b ^ 0x36 for b in padded)
    outer = bytes(b ^ 0x5C for b in padded)
    return {INNER_SETTING: inner.hex(), OUTER_SETTING: outer.hex()}


async def rekey_legacy_digests(conn: asyncpg.Connection, tables: Sequence[str]) -> int:
    """Turn every unkeyed SHA-256 left in ``tables`` into the keyed digest, in SQL; idempotent
    (a row is rewritten once, then marked). Returns how many rows were rewritten."""
    rewritten = 0
    for table in tables:
        status = await conn.execute(
            f"UPDATE {table} SET phone_digest = keyed_phone_digest(phone_digest),"  # noqa: S608
            " digest_keyed = true WHERE NOT digest_keyed"
        )
        rewritten += int(status.rsplit(" ", 1)[-1])
    return rewritten
