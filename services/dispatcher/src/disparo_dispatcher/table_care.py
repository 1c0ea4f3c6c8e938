"""Vacuum and analyse the queue's hot tables when autovacuum has not, so claims stay cheap.

Every message is rewritten two or three times on its way (queued → sending → sent), and each
rewrite leaves a dead row and dead index entries behind. The claim walks the head of each
sender's line in ``messages_claimable``; until a vacuum passes, the dead entries of everything
already claimed lie at that head, and planner statistics taken when the table was small steer
the intake and claim statements to plans for a small table. A server with autovacuum off (or
tuned for tables that change slowly) lets both grow with the backlog: a million-message backlog
was seen claiming at a tenth of its speed.

So the dispatcher watches the cumulative statistics (no table scan) every
``table_care_interval_seconds`` and, when a table has changed by more than
``max(table_care_min_rows, table_care_fraction × live rows)`` since the last pass by anyone,
analyses it (after a bulk intake) or vacuums and analyses it (after churn). Where autovacuum runs
with the thresholds of migration 260 (2%), it passes first and this never fires. One replica
tends the tables at a time (an advisory lock); ``VACUUM (SKIP_LOCKED)`` never waits behind a
vacuum already running.

The outbox is tended with them: every event the dispatcher publishes is inserted and deleted
within a second. A flush's sends are one ``message.sent`` now, but replies flushed one at a time,
failures and statuses still pass one by one. Left alone, a million events left it at 511 MB,
and the relay's read of its head, which walks the dead entries at the start of its index, went
from 1.0 to 2.9 ms, growing with every event since; tended, 26 MB and 0.6–0.8 ms
(``python -m disparo.bench.outbox_churn``).

Worked example, defaults (50,000 rows, 5%): a campaign of 1,000,000 arrives in an empty queue.
The table is analysed at about 50,000 rows, then each time it grows by 5% more; once sending,
it is vacuumed after every ~50,000 finished messages (2-3 dead rows each), i.e. every ~20 s at
2,500 msg/s.
"""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import asyncpg

from disparo_dispatcher import metrics
from disparo_shared.db import release_session_lock
from disparo_shared.logging import get_logger
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "table_care.sql")
HOT_TABLES = ("messages", "recipients", "outbox")

log = get_logger(__name__)


class CareAction(StrEnum):
    ANALYZE = "analyze"
    VACUUM = "vacuum"  # VACUUM (ANALYZE): also refreshes the statistics


@dataclass(frozen=True)
class TableChurn:
    """What the cumulative statistics say of one table since its last vacuum and analyse."""

    table: str
    live: int
    dead: int
    changed_since_analyze: int


@dataclass(frozen=True)
class CarePolicy:
    min_rows: int = 50_000
    fraction: float = 0.05
    # Changed rows that call for an analyse, as a share of the live ones (``fraction`` when
    # None). A table only appended to keeps its statistics' shape as it grows, and is read by
    # index: at 0.5, analysed each time it doubles, log₂(size) times rather than once per 5%.
    analyze_fraction: float | None = None

    def action_for(self, churn: TableChurn) -> CareAction | None:
        """The pass a table needs now, if any: dead rows call for a vacuum, changed rows for a
        fresh analyse."""
        if churn.dead >= max(self.min_rows, self.fraction * churn.live):
            return CareAction.VACUUM
        analyze_fraction = self.fraction if self.analyze_fraction is None else self.analyze_fraction
        if churn.changed_since_analyze >= max(self.min_rows, analyze_fraction * churn.live):
            return CareAction.ANALYZE
        return None


async def read_churn(
    conn: asyncpg.Connection, tables: tuple[str, ...] = HOT_TABLES
) -> list[TableChurn]:
    rows = await conn.fetch(SQL.table_churn, list(tables))
    return [
        TableChurn(
            table=row["table_name"],
            live=row["live"],
            dead=row["dead"],
            changed_since_analyze=row["changed_since_analyze"],
        )
        for row in rows
    ]


async def tend_tables(
    pool: asyncpg.Pool,
    policy: CarePolicy,
    tables: tuple[str, ...] = HOT_TABLES,
    turn: str = "hot",
) -> dict[str, CareAction]:
    """One pass: vacuum or analyse each of ``tables`` that needs it; returns what was done.
    Each ``turn`` is tended by one replica at a time, turns independently of each other (the
    archive's long vacuums never hold off the hot tables')."""
    done: dict[str, CareAction] = {}
    async with pool.acquire() as conn:
        if not await conn.fetchval(SQL.try_care_lock, turn):
            return done  # another replica is tending them right now
        try:
            for churn in await read_churn(conn, tables):
                action = policy.action_for(churn)
                if action is None:
                    continue
                # Names come from our constants, never from input; VACUUM takes no parameter.
                statement = (
                    f"VACUUM (ANALYZE, SKIP_LOCKED) {churn.table}"
                    if action is CareAction.VACUUM
                    else f"ANALYZE (SKIP_LOCKED) {churn.table}"
                )
                await conn.execute(statement)
                metrics.TABLE_CARE.labels(churn.table, action.value).inc()
                log.info(
                    "queue table tended",
                    table=churn.table,
                    action=action.value,
                    live=churn.live,
                    dead=churn.dead,
                    changed_since_analyze=churn.changed_since_analyze,
                )
                done[churn.table] = action
        finally:
            await release_session_lock(conn, SQL.release_care_lock, turn)
    return done
