"""The migration runner: numbered files per schema, each applied exactly once, even in a race."""

import asyncio
import uuid

import asyncpg
import pytest

from disparo_shared.migrations import KERNEL_MIGRATIONS, discover, migrate
from disparo_shared.testing.fixtures import with_database

KERNEL_VERSIONS = [f"kernel:{m.version}" for m in discover(KERNEL_MIGRATIONS)]


@pytest.fixture
async def empty_database_url(test_servers):
    """A database with nothing in it: migrations are what this test is about."""
    name = f"disparo_mig_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(test_servers.database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield with_database(test_servers.database_url, name)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
def service_migrations(tmp_path):
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "001_create_widgets.sql").write_text(
        "CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);"
    )
    # Not idempotent on purpose: a second application would fail loudly.
    (directory / "002_seed_widgets.sql").write_text("INSERT INTO widgets VALUES (1, 'first');")
    return directory


async def _fetch(url: str, query: str):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_pending_migrations_are_applied_in_order_into_the_service_schema(
    empty_database_url, service_migrations
):
    applied = await migrate(empty_database_url, "widgets_svc", service_migrations)

    assert applied == [*KERNEL_VERSIONS, "001", "002"]
    rows = await _fetch(empty_database_url, "SELECT id, name FROM widgets_svc.widgets")
    assert [tuple(r) for r in rows] == [(1, "first")]
    tables = await _fetch(
        empty_database_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'widgets_svc'",
    )
    assert {"outbox", "inbox", "schema_migrations", "widgets"} <= {r[0] for r in tables}


async def test_running_again_applies_nothing(empty_database_url, service_migrations):
    await migrate(empty_database_url, "widgets_svc", service_migrations)

    assert await migrate(empty_database_url, "widgets_svc", service_migrations) == []


async def test_a_new_file_is_applied_alone_on_the_next_run(empty_database_url, service_migrations):
    await migrate(empty_database_url, "widgets_svc", service_migrations)
    (service_migrations / "003_add_colour.sql").write_text("ALTER TABLE widgets ADD colour text;")

    assert await migrate(empty_database_url, "widgets_svc", service_migrations) == ["003"]


async def test_concurrent_runners_apply_each_file_exactly_once(
    empty_database_url, service_migrations
):
    results = await asyncio.gather(
        *(migrate(empty_database_url, "widgets_svc", service_migrations) for _ in range(3))
    )

    applied = [version for result in results for version in result]
    assert sorted(applied) == sorted([*KERNEL_VERSIONS, "001", "002"])
    rows = await _fetch(
        empty_database_url, "SELECT version FROM widgets_svc.schema_migrations ORDER BY version"
    )
    assert len(rows) == len(applied)
    assert await _fetch(empty_database_url, "SELECT count(*) FROM widgets_svc.widgets") == [(1,)]


async def test_two_schemas_in_one_database_keep_separate_histories(
    empty_database_url, service_migrations
):
    await migrate(empty_database_url, "svc_a", service_migrations)

    assert await migrate(empty_database_url, "svc_b", service_migrations) == [
        *KERNEL_VERSIONS,
        "001",
        "002",
    ]


async def test_a_failing_file_leaves_no_trace_and_is_retried_next_time(
    empty_database_url, service_migrations
):
    (service_migrations / "003_broken.sql").write_text(
        "CREATE TABLE gadgets (id int); SELECT no_such_function();"
    )

    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_database_url, "widgets_svc", service_migrations)

    versions = await _fetch(empty_database_url, "SELECT version FROM widgets_svc.schema_migrations")
    assert "003" not in {r[0] for r in versions}
    gadgets = await _fetch(empty_database_url, "SELECT to_regclass('widgets_svc.gadgets')")
    assert gadgets == [(None,)]
    (service_migrations / "003_broken.sql").write_text("CREATE TABLE gadgets (id int);")
    assert await migrate(empty_database_url, "widgets_svc", service_migrations) == ["003"]


@pytest.mark.parametrize(
    "bad_name", ["1_short_number.sql", "001-dashes.sql", "001_UpperCase.sql", "create_things.sql"]
)
def test_a_misnamed_file_is_an_error_not_a_skip(tmp_path, bad_name):
    (tmp_path / "001_fine.sql").write_text("SELECT 1;")
    (tmp_path / bad_name).write_text("SELECT 1;")

    with pytest.raises(ValueError, match="must be named NNN_name.sql"):
        discover(tmp_path)


def test_two_files_with_one_number_are_rejected(tmp_path):
    (tmp_path / "001_first.sql").write_text("SELECT 1;")
    (tmp_path / "001_second.sql").write_text("SELECT 1;")

    with pytest.raises(ValueError, match="share a number"):
        discover(tmp_path)


async def test_a_schema_name_that_is_not_an_identifier_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="invalid schema name"):
        await migrate("postgresql://unused", "x; DROP SCHEMA public", tmp_path)
