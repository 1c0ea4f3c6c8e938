"""Per-doctor locks around everything that can change which message a reply answers.

A reply is matched to the latest message sent to the same phone before it (``record_reply``,
``reattribute_replies``); three projections can change that answer: a request (when a message
was asked for, and its phone), a send (when it went) and the reply itself. They arrive on
different streams and are projected concurrently, and each re-attribution recomputes from what
its own statement can see: two side by side can each miss the other's change, and the later
write wins with a stale answer (a reply left unattributed, or given to the recruiter's answer
instead of the campaign message, for good). So each takes a lock before its attribution
statement and holds it to commit: the one that comes second sees the first's change.

The answer only ever depends on rows of one phone, so the lock is the doctor's, not global:
transactions of different doctors never wait on each other. Phones are hashed into
``BUCKETS`` transaction-scoped advisory locks (two-key form, ``LOCK_SPACE`` first), taken in
ascending order, so two batches that share doctors cannot deadlock. Buckets rather than one
lock per phone bound what a request batch of 5,000 doctors holds in Postgres' shared lock table
(sized ``max_locks_per_transaction`` × connections, 6,400 entries by default) to 256 entries;
two doctors in one bucket only wait on each other, which is what the global lock did always.
"""

import zlib
from collections.abc import Iterable

import asyncpg

LOCK_SPACE = 0x72706C79  # "rply": the first key of every reply-attribution lock
BUCKETS = 256


def doctor_lock_key(phone: str) -> int:
    """The lock key of one phone (canonical form): its bucket among ``BUCKETS``.

    CRC-32, not ``hash()``: every process must map a phone to the same key.
    """
    return zlib.crc32(phone.encode()) % BUCKETS


def doctor_lock_keys(phones: Iterable[str]) -> list[int]:
    """The lock keys of ``phones`` (canonical form), distinct and in the order they are taken.

    ``doctor_lock_keys(["+5511987654321", "+5511987654321"])`` → one key.
    """
    return sorted({doctor_lock_key(phone) for phone in phones})


async def lock_doctors(conn: asyncpg.Connection, phones: Iterable[str]) -> None:
    """Take the attribution locks of ``phones`` until the transaction ends, in key order.

    ``unnest`` yields the sorted array in order, and each row takes its lock before the next.
    """
    keys = doctor_lock_keys(phones)
    if len(keys) == 1:
        await conn.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", LOCK_SPACE, keys[0])
    elif keys:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1::int, k) FROM unnest($2::int[]) AS k",
            LOCK_SPACE,
            keys,
        )
