"""``disparo bench claim``: the claim statement alone, at growing backlogs.

The dispatcher's claim must cost the same per message at 10,000 queued as at 5,000,000. This
benchmark loads a backlog straight into a fresh queue table (in SQL, no services), then at each
size runs the real claim statement several times inside transactions it rolls back, and prints
its times and ``EXPLAIN (ANALYZE, BUFFERS)``: shared buffers per claimed message is the figure
that does not depend on how busy the machine is. Postgres comes from DATABASE_URL, else embedded.
"""

import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from disparo.bench import bench_app

SENDERS = [f"claim-bench-{n:02d}" for n in range(50)]
ROOM = 80  # messages per sender per claim by default: a second of an 80/s number, 4,000 in all
CLAIMS_PER_SIZE = 5


@bench_app.command("claim")
def claim(
    sizes: Annotated[
        str, typer.Option(help="Backlog sizes to measure, comma-separated, growing.")
    ] = "10000,1000000",
    room: Annotated[
        int,
        typer.Option(
            min=1,
            help="Messages each of the 50 senders claims per statement (the dispatcher claims "
            "about 0.2 s of a sender's rate: 16 at 80/s).",
        ),
    ] = ROOM,
    plans: Annotated[bool, typer.Option(help="Print each size's full plan too.")] = False,
    analyse: Annotated[
        bool,
        typer.Option(
            "--analyse/--no-analyse",
            help="ANALYZE the queue after each load; --no-analyse claims on the statistics of "
            "an empty table, as a server with autovacuum off would (plans must not need them).",
        ),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON on stdout instead.")
    ] = False,
) -> None:
    """Time the claim statement and count its buffers at each backlog size; print them."""
    wanted = sorted({int(size) for size in sizes.split(",") if size.strip()})
    if not wanted or wanted[0] < len(SENDERS) * room:
        raise typer.BadParameter(
            f"sizes must be at least {len(SENDERS) * room:,}", param_hint="--sizes"
        )
    console, err = Console(), Console(stderr=True)
    results = asyncio.run(
        _run(wanted, room, analyse, lambda line: err.print(f"[dim]bench │ {line}[/dim]"))
    )
    if as_json:
        import json

        print(json.dumps([{k: v for k, v in r.items() if plans or k != "plan"} for r in results]))
        return
    table = Table(
        title="disparo bench claim — the claim statement alone, rolled back"
        + ("" if analyse else ", never analysed"),
        title_justify="left",
    )
    for column in (
        "backlog",
        "claimed",
        "ms per claim (min / median)",
        "buffers",
        "buffers per msg",
        "of which the pick",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{r['size']:,}",
            f"{r['claimed']:,}",
            f"{r['min_ms']:.1f} / {r['median_ms']:.1f}",
            f"{r['buffers']:,}",
            f"{r['buffers'] / r['claimed']:.1f}",
            f"{r['pick_buffers'] / r['claimed']:.1f}",
        )
    console.print(table)
    first, last = results[0], results[-1]
    console.print(
        f"buffers per message at {last['size']:,} over {first['size']:,}: "
        f"{(last['buffers'] / last['claimed']) / (first['buffers'] / first['claimed']):.2f}×"
    )
    if plans:
        for r in results:
            console.print(f"\n[bold]plan at {r['size']:,}[/bold]\n{r['plan']}")


async def _run(sizes: list[int], room: int, analyse: bool, say) -> list[dict]:
    from disparo.bench.servers import bench_servers

    work_dir = Path(tempfile.mkdtemp(prefix="disparo-bench-claim-"))
    async with bench_servers(
        os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL"), work_dir, say
    ) as servers:
        return await _measure(servers.database_url, sizes, room, analyse, say)


async def _measure(
    database_url: str, sizes: list[int], room: int, analyse: bool, say
) -> list[dict]:
    import asyncpg

    from disparo_dispatcher import queue
    from disparo_dispatcher.spec import SPEC as DISPATCHER
    from disparo_shared.queries import load_queries

    bench_sql = load_queries(Path(__file__).parent / "sql" / "claim.sql")
    # As the dispatcher's pool runs it (``DatabaseSettings.jit``): without JIT.
    conn = await asyncpg.connect(
        database_url, server_settings={"search_path": DISPATCHER.schema, "jit": "off"}
    )
    try:
        for sender in SENDERS:
            await conn.execute(bench_sql.add_sender, sender)
        now, campaign, loaded, results = datetime.now(UTC), uuid.uuid4(), 0, []
        args = (SENDERS, [room] * len(SENDERS), now, "claim-bench", now + timedelta(minutes=1))
        for size in sizes:
            started = time.monotonic()
            await conn.execute(bench_sql.add_queued, loaded + 1, size, now, campaign, SENDERS)
            if analyse:
                await conn.execute("ANALYZE messages")
            loaded = size
            say(f"{size:,} queued in {time.monotonic() - started:.1f}s")
            timings, claimed = [], 0
            for _ in range(CLAIMS_PER_SIZE):
                async with _rolled_back(conn):
                    started = time.monotonic()
                    claimed = len(await conn.fetch(queue.SQL.claim_due_messages, *args))
                    timings.append((time.monotonic() - started) * 1000)
            async with _rolled_back(conn):
                plan = await conn.fetchval(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + queue.SQL.claim_due_messages,
                    *args,
                )
            root = _plan_root(plan)
            timings.sort()
            results.append(
                {
                    "size": size,
                    "claimed": claimed,
                    "min_ms": timings[0],
                    "median_ms": timings[len(timings) // 2],
                    "buffers": _buffers(root),
                    "pick_buffers": _buffers(_find(root, "picked")),
                    "plan": _text(root),
                }
            )
        return results
    finally:
        await conn.close()


class _rolled_back:
    """A transaction that is always rolled back: the backlog stays as loaded."""

    def __init__(self, conn) -> None:
        self._transaction = conn.transaction()

    async def __aenter__(self) -> None:
        await self._transaction.start()

    async def __aexit__(self, *exc) -> None:
        await self._transaction.rollback()


def _plan_root(plan) -> dict:
    import json

    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _buffers(node: dict | None) -> int:
    if node is None:
        return 0
    return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))


def _find(node: dict, cte: str) -> dict | None:
    """The node computing the CTE named ``cte`` (its subplan name is 'CTE <name>')."""
    if node.get("Subplan Name") == f"CTE {cte}":
        return node
    for child in node.get("Plans", []):
        found = _find(child, cte)
        if found is not None:
            return found
    return None


def _text(node: dict, depth: int = 0) -> str:
    label = node["Node Type"] + (f" on {node['Relation Name']}" if "Relation Name" in node else "")
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    line = (
        f"{'  ' * depth}{label} (rows={node.get('Actual Rows')} "
        f"time={node.get('Actual Total Time')} ms buffers={_buffers(node)} "
        f"read={node.get('Shared Read Blocks', 0)} written={node.get('Shared Written Blocks', 0)})"
    )
    return "\n".join([line, *(_text(child, depth + 1) for child in node.get("Plans", []))])
