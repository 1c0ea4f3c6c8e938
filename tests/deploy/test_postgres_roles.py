"""deploy/k8s/data/roles.sql on a real Postgres: each service's role reads and writes its own
schema only, and only the migrator may change a schema.

Roles are cluster-wide, so the test renames them (``disparo_`` → ``disparo_t<hex>_``) and drops
them afterwards; schema names are left as they are, inside a database of the test's own.
"""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from disparo_shared.migrations import migrate
from disparo_shared.testing.fixtures import all_service_specs, with_database
from disparo_shared.testing.servers import TestServers as Servers

ROLES_SQL = Path(__file__).parents[2] / "deploy" / "k8s" / "data" / "roles.sql"


@pytest.fixture
async def roles_database(test_servers: Servers) -> AsyncIterator[tuple[str, str]]:
    """(database URL as the superuser, role prefix) with roles.sql applied, then migrated as
    the migrator role."""
    suffix = uuid.uuid4().hex[:8]
    prefix = f"disparo_t{suffix}_"
    database = f"disparo_roles_{suffix}"
    admin = await asyncpg.connect(test_servers.database_url)
    await admin.execute(f"CREATE DATABASE {database}")
    url = with_database(test_servers.database_url, database)
    try:
        owner = await asyncpg.connect(url)
        try:
            await owner.execute(ROLES_SQL.read_text().replace("disparo_", prefix))
        finally:
            await owner.close()
        yield url, prefix
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        for role in ("migrator", "campaign_api", "dispatcher", "followup", "reporting"):
            await admin.execute(f"DROP ROLE IF EXISTS {prefix}{role}")
        await admin.close()


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def test_each_service_role_reaches_only_its_schema_and_only_the_migrator_changes_them(
    roles_database: tuple[str, str],
) -> None:
    url, prefix = roles_database
    for spec in all_service_specs():
        await migrate(as_role(url, f"{prefix}migrator"), spec.schema, spec.migrations)

    dispatcher = await asyncpg.connect(as_role(url, f"{prefix}dispatcher"))
    try:
        await dispatcher.execute(
            "INSERT INTO dispatcher.outbox (event_id, subject, payload, headers)"
            " VALUES (gen_random_uuid(), 'message.sent', '{}', '{}')"
        )
        assert await dispatcher.fetchval("SELECT count(*) FROM dispatcher.outbox") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await dispatcher.fetchval("SELECT count(*) FROM campaign_api.contacts")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await dispatcher.execute("CREATE TABLE dispatcher.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await dispatcher.execute("ALTER TABLE dispatcher.outbox ADD COLUMN intruder int")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await dispatcher.execute("CREATE TABLE public.intruder (id int)")
    finally:
        await dispatcher.close()

    reporting = await asyncpg.connect(as_role(url, f"{prefix}reporting"))
    try:
        assert await reporting.fetchval("SELECT count(*) FROM reporting.outbox") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reporting.fetchval("SELECT count(*) FROM dispatcher.outbox")
    finally:
        await reporting.close()
