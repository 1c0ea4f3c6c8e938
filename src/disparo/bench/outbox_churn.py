"""The outbox relay's cost as events pass through an outbox that nobody vacuums, and one tended.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m disparo.bench.outbox_churn --events 1000000

Creates a scratch database (dropped at the end) with the dispatcher's schema and autovacuum off
for its outbox, as on a server that runs without it. Events go through the outbox as the
dispatcher's flush and relay move them: ``add_events`` writes 1,000 ``message.sent`` of one
send each (a reply's flush, the smallest event) at a time
and ``OutboxRelay.publish_batch`` reads, publishes and deletes them 500 at a time, here to a
stand-in for JetStream that acks at once (this measures Postgres, not NATS). Runs twice: left
alone, then tended by the dispatcher's table care (``table_care.tend_tables``, its default
policy, every 10,000 events). Prints, every fifth of the run, the median of 20 runs of the
relay's read of the outbox's head (``LOCK_HEAD``, the statement that walks dead entries) and the
outbox's size on disk, tables and indexes.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from disparo.bench.scratch import scratch_database
from disparo_dispatcher import table_care
from disparo_dispatcher.spec import SPEC
from disparo_shared.db import create_pool
from disparo_shared.events import MessagesSent
from disparo_shared.logging import configure_logging
from disparo_shared.outbox import LOCK_HEAD, OutboxRelay, add_events
from disparo_shared.settings import DatabaseSettings

WRITE_BATCH = 1_000  # the flush's events at a time
RELAY_BATCH = 500  # OutboxRelay's default
TEND_EVERY = 10_000


class AckingJetStream:
    """Takes every publish and acks it at once."""

    async def publish_async(self, subject: str, payload: bytes, headers: dict) -> asyncio.Future:
        acked = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


def _sent_events(count: int) -> list:
    now = datetime.now(UTC)
    return [
        MessagesSent.serialized(
            messages=[
                {
                    "message_id": uuid.uuid4(),
                    "campaign_id": None,
                    "contact_id": None,
                    "conversation_id": None,
                    "kind": "reply",
                    "provider_message_id": f"BAE5{i:012d}",
                    "sender": "s1",
                    "attempt": 1,
                    "sent_at": now,
                }
            ]
        )
        for i in range(count)
    ]


async def _head_read_ms(pool: asyncpg.Pool) -> float:
    """The median time of the relay's read of the outbox's head, in its own transaction."""
    times = []
    async with pool.acquire() as conn:
        for _ in range(20):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.fetch(LOCK_HEAD, RELAY_BATCH)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _run(pool: asyncpg.Pool, events: int, tended: bool) -> None:
    relay = OutboxRelay(pool, AckingJetStream(), batch_size=RELAY_BATCH)  # type: ignore[arg-type]
    policy = table_care.CarePolicy()
    report_every = max(WRITE_BATCH, events // 5 // WRITE_BATCH * WRITE_BATCH)
    for done in range(WRITE_BATCH, events + 1, WRITE_BATCH):
        async with pool.acquire() as conn, conn.transaction():
            await add_events(conn, _sent_events(WRITE_BATCH))
        while await relay.publish_batch():
            pass
        if tended and done % TEND_EVERY == 0:
            await table_care.tend_tables(pool, policy, tables=("outbox",))
        if done % report_every == 0:
            head_ms = await _head_read_ms(pool)
            megabytes = await pool.fetchval("SELECT pg_total_relation_size('outbox')") / 1e6
            print(
                f"{'tended' if tended else 'left alone'}: {done:>9,} events, the relay's read"
                f" of the head {head_ms:.2f} ms, outbox {megabytes:.1f} MB",
                flush=True,
            )


async def main(events: int) -> None:
    for tended in (False, True):
        async with scratch_database("disparo_outboxbench", SPEC.schema, SPEC.migrations) as url:
            pool = await create_pool(
                DatabaseSettings(url=url, pool_min_size=1, pool_max_size=2), SPEC.schema
            )
            try:
                await pool.execute("ALTER TABLE outbox SET (autovacuum_enabled = false)")
                await _run(pool, events, tended)
            finally:
                await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    configure_logging("WARNING")
    asyncio.run(main(parser.parse_args().events))
