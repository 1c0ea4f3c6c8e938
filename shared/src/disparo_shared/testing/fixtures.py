"""Pytest fixtures: a fresh database (cloned from a migrated template) and fresh streams per test.

The template holds every service's schema, migrated once per session; cloning it costs a file
copy, not a migration run. Streams are isolated by a random subject/stream prefix and deleted
after the test, so tests never see each other's events.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest

from disparo_shared.dev_secrets import (
    DEV_ENVIRONMENT,
    SIM_CLOUD_TOKEN,
    SIM_EVOLUTION_KEY,
    TEST_API_KEY,
)
from disparo_shared.migrations import migrate
from disparo_shared.runtime import KernelSettings, ServiceSpec
from disparo_shared.settings import (
    DatabaseSettings,
    DeploymentSettings,
    HttpSettings,
    NatsSettings,
    TelemetrySettings,
)
from disparo_shared.testing.servers import TestServers, resolve_servers
from disparo_shared.testing.tracing import span_exporter

__all__ = ["TEST_API_KEY", "TEST_ENVIRONMENT", "eventually", "span_exporter", "with_database"]

# The test run is the one place besides `disparo dev` that declares itself non-production.
TEST_ENVIRONMENT = {
    **DEV_ENVIRONMENT,
    "DISPARO_ENV": "test",
    "DISPARO_API_KEYS": json.dumps([TEST_API_KEY]),
    "SIM_EVOLUTION_KEY": SIM_EVOLUTION_KEY,
    "SIM_CLOUD_TOKEN": SIM_CLOUD_TOKEN,
}


def pytest_configure(config: pytest.Config) -> None:
    """Tests run as ``DISPARO_ENV=test`` with the public test secrets, unless told otherwise."""
    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


# An end-to-end test starts processes and walks a whole flow, each step with its own generous
# wait; under load their sum outlives the suite's 120 s per-test timeout although nothing hangs.
# For them that timeout is only a hang guard, so it is wider (a test's own marker still wins).
E2E_HANG_GUARD_SECONDS = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(E2E_HANG_GUARD_SECONDS))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def all_service_specs() -> list[ServiceSpec]:
    from disparo_campaign_api.spec import SPEC as campaign_api
    from disparo_dispatcher.spec import SPEC as dispatcher
    from disparo_followup.spec import SPEC as followup
    from disparo_reporting.spec import SPEC as reporting

    return [campaign_api, dispatcher, followup, reporting]


def console_spec() -> ServiceSpec:
    """The console: a schema of its own, no bus (it reaches the services over HTTP only)."""
    from disparo_console.spec import SPEC as console

    return console


@pytest.fixture(scope="session")
def test_servers() -> Iterator[TestServers]:
    with ExitStack() as stack:
        yield resolve_servers(stack)


@pytest.fixture(scope="session")
async def template_database(test_servers: TestServers) -> AsyncIterator[str]:
    name = f"disparo_tpl_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(test_servers.database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = with_database(test_servers.database_url, name)
        for spec in [*all_service_specs(), console_spec()]:
            await migrate(url, spec.schema, spec.migrations)
        yield name
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
async def database_url(test_servers: TestServers, template_database: str) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test alone."""
    name = f"disparo_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(test_servers.database_url)
    try:
        await admin.execute(
            f"CREATE DATABASE {name} TEMPLATE {template_database} STRATEGY FILE_COPY"
        )
        yield with_database(test_servers.database_url, name)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def nats_settings(test_servers: TestServers) -> AsyncIterator[NatsSettings]:
    """NATS settings with a prefix of their own; the test's streams are deleted afterwards."""
    settings = NatsSettings(url=test_servers.nats_url, stream_prefix=f"t{uuid.uuid4().hex[:10]}.")
    yield settings
    nc = await nats.connect(test_servers.nats_url)
    try:
        js = nc.jetstream()
        prefix = settings.stream_prefix.replace(".", "_").upper()
        for name in await js.streams_info():
            if name.config.name.startswith(prefix):
                await js.delete_stream(name.config.name)
    finally:
        await nc.close()


@pytest.fixture
def kernel_settings(database_url: str, nats_settings: NatsSettings) -> KernelSettings:
    return KernelSettings(
        database=DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=5),
        nats=nats_settings,
        telemetry=TelemetrySettings(log_level="WARNING"),
        http=HttpSettings(api_keys=[TEST_API_KEY]),
        deployment=DeploymentSettings(env="test"),
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test database (schemas must be named in queries)."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def eventually(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Await ``predicate()`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        await asyncio.sleep(interval)
