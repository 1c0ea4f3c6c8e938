"""Random ids that sort by creation time: the UUIDv7 layout of RFC 9562, for new primary keys.

A random (version-4) id puts each insert on a random leaf of a B-tree; at millions of rows that
leaf is seldom in memory and, after a checkpoint, its first change writes the whole page to the
WAL. A version-7 id starts with the Unix milliseconds, so rows made together sit together::

    | Unix ms (48) | ver=7 | random (12) | var=10 | random (62) |

74 random bits keep ids unguessable and two made in the same millisecond apart (a collision
among a million ids of one millisecond: about 1 in 3 × 10¹⁰). Python 3.11 has no ``uuid7``;
Postgres (before 18) has none either: campaign-api's migration 280 and the follow-up job build
the same layout in SQL from ``gen_random_uuid()``.
"""

import os
from datetime import UTC, datetime, timedelta
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def time_ordered_uuid(now: datetime) -> UUID:
    """A new random id whose first 48 bits are ``now`` in Unix milliseconds, e.g.
    2026-12-04 12:00:00 UTC → ``01a240ec-f200-7xxx-{8,9,a,b}xxx-xxxxxxxxxxxx``."""
    milliseconds = (now - _EPOCH) // _MILLISECOND
    if not 0 <= milliseconds < 1 << 48:
        raise ValueError(f"time out of range: {now}")
    random = int.from_bytes(os.urandom(10))  # 80 bits, 74 of them used
    rand_a = random >> 68  # 12 bits
    rand_b = random & ((1 << 62) - 1)
    high = (milliseconds << 16) | (7 << 12) | rand_a
    low = (0b10 << 62) | rand_b
    return UUID(int=(high << 64) | low)
