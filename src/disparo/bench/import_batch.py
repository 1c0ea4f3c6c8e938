"""What one bulk-import batch costs Postgres per row, in buffers and WAL, in Postgres alone.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m disparo.bench.import_batch --contacts 300000 --batches 5

Creates a scratch database (dropped at the end), migrates campaign-api, imports generated
doctors through the import itself (``import_contacts``: two writers, batches of 5,000), with the
CPU seconds of the Python side and of the Postgres backends per row; then runs the import's batch
statement on ``--batches`` batches of 5,000 new doctors under ``EXPLAIN (ANALYZE, BUFFERS, WAL)``,
each rolled back, each after a ``CHECKPOINT`` (a shared server checkpoints often: every
``CREATE DATABASE … STRATEGY FILE_COPY`` of a test forces one, and the first change to a page
after a checkpoint writes the whole page to the WAL), and prints the median per row of shared
buffers hit and dirtied, WAL records, full-page images and WAL bytes. These do not depend on how
busy the machine is; wall and CPU times do. ``--ddl`` then measures again with SQL run in
each batch's transaction first: another index set on the same table, e.g. migration 280 undone::

    --ddl "ALTER TABLE contacts ALTER id SET DEFAULT gen_random_uuid()"

``--setup`` is SQL run once after the migrations, before the import, so the import's own CPU
per row is measured with it, e.g. the name index's pending list made larger::

    --setup "ALTER INDEX contacts_name_unaccented_trgm SET (gin_pending_list_limit = 65536)"
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from itertools import islice

import asyncpg
import psutil

from disparo.bench.scratch import scratch_database
from disparo_campaign_api.contacts import bulk_import
from disparo_campaign_api.contacts.fake import generate_contacts_csv
from disparo_campaign_api.spec import SPEC

BATCH = 5000
PLAN_FIGURES = {
    "Shared Hit Blocks": "buffers hit",
    "Shared Dirtied Blocks": "buffers dirtied",
    "WAL Records": "WAL records",
    "WAL FPI": "full-page images",
    "WAL Bytes": "WAL bytes",
}


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def _import(pool: asyncpg.Pool, contacts: int) -> None:
    """The generated doctors through ``import_contacts``; prints its CPU per row."""
    body = "".join(generate_contacts_csv(contacts, seed=7)).encode()

    async def chunks():
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    backends = [r["pid"] for r in await pool.fetch("SELECT pid FROM pg_stat_activity")]
    backends = [pid for pid in backends if psutil.pid_exists(pid)]
    before = {pid: _cpu_seconds(pid) for pid in backends}
    own = _cpu_seconds(os.getpid())
    started = time.monotonic()
    await bulk_import.import_contacts(
        pool,
        bulk_import.parse_stream(chunks(), bulk_import.CsvContacts(1 << 20)),
        batch_size=BATCH,
        max_listed_errors=10,
        at=datetime.now(UTC),
        writers=2,
    )
    wall = time.monotonic() - started
    postgres = sum(_cpu_seconds(pid) - cpu for pid, cpu in before.items() if psutil.pid_exists(pid))
    python = _cpu_seconds(os.getpid()) - own
    print(
        f"import of {contacts:,}: {wall:.1f} s ({contacts / wall:,.0f} rows/s), CPU µs a row: "
        f"Postgres {postgres * 1e6 / contacts:.1f}, Python {python * 1e6 / contacts:.1f} "
        f"(load average {os.getloadavg()[0]:.1f})"
    )


def _batch_columns(seed: int) -> tuple[str, ...]:
    """One batch of new doctors as the batch statement reads it."""
    parser = bulk_import.CsvContacts(1 << 20)
    text = "".join(islice(generate_contacts_csv(BATCH, seed=seed), BATCH + 1))
    rows = [row for _, row in parser.feed(text) + parser.close()]
    rows = sorted((r for r in rows if isinstance(r, bulk_import.ImportRow)), key=lambda r: r.phone)
    return tuple(
        bulk_import._column_text([getattr(row, name) for row in rows])
        for name in bulk_import.IMPORT_FIELDS
    )


async def _explain_batches(conn: asyncpg.Connection, batches: int, ddl: str) -> None:
    per_row: dict[str, list[float]] = {name: [] for name in PLAN_FIGURES}
    for seed in range(1000, 1000 + batches):
        columns = _batch_columns(seed)
        await conn.execute("CHECKPOINT")
        transaction = conn.transaction()
        await transaction.start()
        try:  # rolled back: the batches measured never change the table
            if ddl:
                await conn.execute(ddl)
            await conn.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
            plan = json.loads(
                await conn.fetchval(
                    "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + bulk_import.UPSERT_BATCH,
                    *columns,
                )
            )[0]["Plan"]
        finally:
            await transaction.rollback()
        for key in PLAN_FIGURES:
            per_row[key].append(plan.get(key, 0) / BATCH)
    print(
        f"batch of {BATCH:,} new doctors after a CHECKPOINT, median of {batches}, per row"
        + (f" (with {ddl!r})" if ddl else "")
        + ":"
    )
    for key, label in PLAN_FIGURES.items():
        print(f"  {label}: {statistics.median(per_row[key]):,.2f}")


async def main(contacts: int, batches: int, ddl: str, setup: str) -> None:
    async with (
        scratch_database("disparo_importbench", SPEC.schema, SPEC.migrations) as url,
        asyncpg.create_pool(
            url, min_size=2, max_size=2, server_settings={"search_path": SPEC.schema}
        ) as pool,
    ):
        if setup:
            await pool.execute(setup)
        await _import(pool, contacts)
        if not batches:
            return
        async with pool.acquire() as conn:
            await _explain_batches(conn, batches, "")
            if ddl:
                await _explain_batches(conn, batches, ddl)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=300_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--ddl", default="", help="SQL run in each measured batch's transaction")
    parser.add_argument("--setup", default="", help="SQL run once before the import")
    args = parser.parse_args()
    asyncio.run(main(args.contacts, args.batches, args.ddl, args.setup))
