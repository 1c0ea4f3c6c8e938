"""``pick_sender``: where a new contact goes — a stable draw weighted by each sender's capacity."""

from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest

from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings

DRAW = "SELECT pick_sender($1::text, $2::text[], $3::bigint[])"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), "dispatcher")
    yield pool
    await pool.close()


async def draws(pool: asyncpg.Pool, phones: list[str], ids: list[str], cumulative: list[int]):
    rows = await pool.fetch(
        "SELECT pick_sender(p, $2::text[], $3::bigint[]) AS sender FROM unnest($1::text[]) p",
        phones,
        ids,
        cumulative,
    )
    return [r["sender"] for r in rows]


async def test_the_same_phone_always_draws_the_same_sender(pool):
    phones = [f"+55119{n:08d}" for n in range(500)]
    ids, cumulative = ["a", "b", "c"], [10, 20, 30]
    assert await draws(pool, phones, ids, cumulative) == await draws(pool, phones, ids, cumulative)


async def test_senders_take_new_contacts_in_proportion_to_their_weight(pool):
    phones = [f"+55219{n:08d}" for n in range(20_000)]
    # weights 1 : 3 : 6 as running totals
    counts = Counter(await draws(pool, phones, ["small", "medium", "large"], [100, 400, 1000]))
    assert set(counts) == {"small", "medium", "large"}
    assert counts["small"] / 20_000 == pytest.approx(0.1, abs=0.02)
    assert counts["medium"] / 20_000 == pytest.approx(0.3, abs=0.02)
    assert counts["large"] / 20_000 == pytest.approx(0.6, abs=0.02)


async def test_a_single_sender_takes_everyone_and_no_sender_gives_none(pool):
    assert set(await draws(pool, ["+5511987654321", "+5521987654321"], ["only"], [5])) == {"only"}
    assert await pool.fetchval(DRAW, "+5511987654321", [], []) is None


async def test_the_draw_is_the_first_sender_whose_running_total_exceeds_it(pool):
    """The definition, spelled out in SQL: the draw is the phone's hash modulo the total."""
    phones = [f"+55319{n:08d}" for n in range(5_000)]
    ids = [f"s{n}" for n in range(1, 12)]
    cumulative = [sum(3 + n % 5 for n in range(k)) for k in range(1, 12)]  # uneven weights
    expected = await pool.fetch(
        """
        SELECT (SELECT ($2::text[])[i] FROM generate_subscripts($3::bigint[], 1) i
                WHERE ($3::bigint[])[i] > ((hashtextextended(p, 0) % $4) + $4) % $4
                ORDER BY i LIMIT 1) AS sender
        FROM unnest($1::text[]) p
        """,
        phones,
        ids,
        cumulative,
        cumulative[-1],
    )
    assert await draws(pool, phones, ids, cumulative) == [r["sender"] for r in expected]
