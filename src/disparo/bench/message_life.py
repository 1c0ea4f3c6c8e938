"""What a message's whole life in the queue costs Postgres, in CPU of one backend, round by round.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m disparo.bench.message_life --rounds 5 --per-round 50000

Creates a scratch database (dropped at the end), migrates the dispatcher from ``--tree`` (this
checkout by default; another checkout's path measures its statements and schema instead) and
runs each round's messages, 1,000 at a time, through the dispatcher's own statements on one
connection: the intake (``enqueue_messages``, after ``take_idempotency_keys`` where the tree has
it), a claim of all of them (50 senders), ``mark_sent``; then the archiver's moves where the tree
has ``sql/archive.sql``, and the ``VACUUM (ANALYZE)`` table care would run, every round. Prints
per round the backend's CPU microseconds per message, by step (read from /proc: other clients of
a shared server do not count, though a busy machine still slows the backend), with the hot
table's size and the sent rows left in it. Autovacuum is off for the queue's tables, as on the
machine's Postgres. Without an archive the sent rows pile up round after round; with it each
round starts from the same small table.
"""

import argparse
import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from disparo.bench.scratch import scratch_database
from disparo_shared.phone_digests import session_settings
from disparo_shared.queries import load_queries

BATCH = 1000
SENDERS = [f"life-{i}" for i in range(50)]
DISPATCHER = Path("services/dispatcher/src/disparo_dispatcher")
TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local Postgres backend has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def run_rounds(conn: asyncpg.Connection, tree: Path, rounds: int, per_round: int) -> None:
    queue = load_queries(tree / DISPATCHER / "sql" / "queue.sql")
    archive_sql = tree / DISPATCHER / "sql" / "archive.sql"
    archive = load_queries(archive_sql) if archive_sql.exists() else None
    takes_keys = hasattr(queue, "take_idempotency_keys")
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    now = datetime.now(UTC)
    made = 0
    for round_number in range(1, rounds + 1):
        spent: dict[str, float] = {}

        async def timed(
            step: str, statement: str, *args, spent: dict[str, float] = spent
        ) -> list[asyncpg.Record]:
            before = backend_cpu(pid)
            rows = await conn.fetch(statement, *args)
            spent[step] = spent.get(step, 0.0) + backend_cpu(pid) - before
            return rows

        for _ in range(0, per_round, BATCH):
            ids = [uuid.uuid4() for _ in range(BATCH)]
            keys = [f"life:{i}" for i in ids]
            phones = [f"+55119{(made + i) % 10_000_000:08d}" for i in range(BATCH)]
            ranks = [now + timedelta(microseconds=made + i) for i in range(BATCH)]
            made += BATCH
            if takes_keys:
                await timed("enqueue", queue.take_idempotency_keys, keys, ids)
            await timed(
                "enqueue", queue.enqueue_messages, ids, keys, [None] * BATCH, phones,
                ["campaign"] * BATCH, ["Olá, doutora!"] * BATCH, [3] * BATCH, [None] * BATCH,
                [None] * BATCH, [5] * BATCH, ["America/Sao_Paulo"] * BATCH, [now] * BATCH,
                ranks, now, now, SENDERS, list(range(1, len(SENDERS) + 1)), [None] * BATCH, None,
            )  # fmt: skip
            claimed = await timed(
                "claim", queue.claim_due_messages, SENDERS, [BATCH // len(SENDERS)] * len(SENDERS),
                now + timedelta(seconds=1), "life", now + timedelta(minutes=5),
            )  # fmt: skip
            await timed(
                "mark_sent", queue.mark_sent, [c["message_id"] for c in claimed],
                [c["attempt"] for c in claimed], [f"wamid.{c['message_id']}" for c in claimed],
                [now] * len(claimed), [None] * len(claimed),
            )  # fmt: skip
        if archive is not None:
            while True:
                before = backend_cpu(pid)
                async with conn.transaction():
                    await conn.fetchval(archive.try_archive_turn)
                    status = await conn.execute(
                        archive.archive_finished, now + timedelta(hours=1), 5000
                    )
                spent["archive"] = spent.get("archive", 0.0) + backend_cpu(pid) - before
                if int(status.rsplit(" ", 1)[-1]) < 5000:
                    break
        before = backend_cpu(pid)
        await conn.execute("VACUUM (ANALYZE) messages")
        if archive is not None:
            await conn.execute("VACUUM (ANALYZE) messages_archive, message_keys")
        spent["vacuum"] = backend_cpu(pid) - before
        hot_bytes = await conn.fetchval("SELECT pg_total_relation_size('messages')")
        hot_sent = await conn.fetchval("SELECT count(*) FROM messages WHERE state = 'sent'")
        steps = " ".join(f"{step} {cpu / per_round * 1e6:.0f}" for step, cpu in spent.items())
        print(
            f"round {round_number}: {per_round:,} messages, Postgres CPU µs per message "
            f"{sum(spent.values()) / per_round * 1e6:.0f} ({steps}); hot table "
            f"{hot_bytes / 1e6:.0f} MB, {hot_sent:,} sent rows in it",
            flush=True,
        )


async def main(tree: Path, rounds: int, per_round: int) -> None:
    migrations = tree / DISPATCHER / "migrations"
    async with scratch_database("disparo_life", "dispatcher", migrations) as url:
        conn = await asyncpg.connect(
            url, server_settings={"search_path": "dispatcher", **session_settings("life-bench")}
        )
        try:
            for table in ("messages", "recipients"):
                await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
            await conn.executemany(
                "INSERT INTO senders (sender_id, provider, address, base_url, credential_ref)"
                " VALUES ($1, 'evolution', $1, 'http://life.invalid', 'env:LIFE')",
                [(s,) for s in SENDERS],
            )
            await run_rounds(conn, tree, rounds, per_round)
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=50_000, help="a multiple of 1,000")
    parser.add_argument("--tree", type=Path, default=Path.cwd(), help="checkout to measure")
    options = parser.parse_args()
    asyncio.run(main(options.tree, options.rounds, options.per_round))
