"""A database of its own for a benchmark that measures Postgres alone, dropped afterwards."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from disparo_shared.migrations import migrate
from disparo_shared.testing.fixtures import with_database


@asynccontextmanager
async def scratch_database(prefix: str, schema: str, migrations: Path) -> AsyncIterator[str]:
    """The URL of a new database on DATABASE_URL's server (the machine's by default) with
    ``schema`` migrated from ``migrations``; dropped on the way out, however the run ends."""
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            url = with_database(server, name)
            await migrate(url, schema, migrations)
            yield url
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
