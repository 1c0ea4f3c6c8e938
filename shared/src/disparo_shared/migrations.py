"""Forward-only SQL migrations, numbered per service, each service in its own schema.

A service ships ``migrations/NNN_name.sql``; the kernel ships its own (outbox, inbox) which are
applied first into every service schema. All of it runs under one advisory lock, so several
replicas starting at once apply each file exactly once; each file runs in its own transaction
with ``search_path`` set to the service schema, so the SQL never names its schema.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from disparo_shared.logging import get_logger

KERNEL_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x6D6967726174  # "migrat": one lock for every schema keeps the runner simple
_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

log = get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    version: str  # "kernel:001" or "001"
    path: Path


def discover(directory: Path, prefix: str = "") -> list[Migration]:
    """Migrations of one directory in version order; a misnamed file is an error, not a skip."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path} must be named NNN_name.sql")
        found.append(Migration(f"{prefix}{match.group(1)}", path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number in {directory}")
    return found


async def migrate(dsn: str, schema: str, directory: Path) -> list[str]:
    """Apply the kernel's and the service's pending migrations; return the versions applied."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"invalid schema name {schema!r}")
    pending = discover(KERNEL_MIGRATIONS, "kernel:") + discover(directory)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"]
                for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
            }
            applied = []
            for migration in pending:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path = {schema}, public")
                    await conn.execute(migration.path.read_text(encoding="utf-8"))
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (version) VALUES ($1)",
                        migration.version,
                    )
                applied.append(migration.version)
                log.info("migration applied", schema=schema, version=migration.version)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
