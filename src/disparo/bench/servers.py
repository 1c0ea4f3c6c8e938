"""The benchmark's own corner of Postgres and NATS, created for one run and removed after it.

Servers come from ``DATABASE_URL`` / ``NATS_URL`` when set, else embedded ones are started in a
temporary folder. Either way the run gets a fresh database (``disparo_bench_<hex>``) and a
stream prefix of its own (``bench<hex>.``), so it never touches a dev stack's queue, and both
are dropped at the end, whatever happened. With ``nats_cluster``, NATS is instead a three-node
JetStream cluster of the run's own on loopback (``disparo.nats_cluster``), every stream with three
replicas.
"""

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
from nats.js.errors import NotFoundError

from disparo.bench.cpu import listening_pid
from disparo.devstack import declare_streams
from disparo.embedded import EmbeddedNats, EmbeddedPostgres
from disparo.nats_cluster import NatsCluster
from disparo_dispatcher.spec import SPEC as DISPATCHER
from disparo_shared.migrations import migrate
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import stream_configs

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class BenchServers:
    """Where the run's database and streams are, and which processes serve them."""

    database_url: str  # the run's own database
    nats_url: str
    stream_prefix: str
    postgres_pid: int | None  # for CPU accounting; None when not visible
    nats_pid: int | None
    embedded: bool  # both servers started for this run (their CPU is the run's alone)
    postgres_server: EmbeddedPostgres | None = None  # when started here: it can be restarted
    nats_server: EmbeddedNats | None = None
    nats_cluster: NatsCluster | None = None  # when started here: its nodes can be killed
    nats_replicas: int = 1

    @property
    def nats_settings(self) -> NatsSettings:
        return NatsSettings(
            url=self.nats_url, stream_prefix=self.stream_prefix, replicas=self.nats_replicas
        )


def _local_port(url: str, default_port: int) -> int | None:
    parts = urlsplit(url.split(",")[0])
    if parts.hostname not in _LOCAL_HOSTS:
        return None
    return parts.port or default_port


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.strip().isdigit() else None


async def _drop_streams(settings: NatsSettings) -> None:
    nc = await nats.connect(
        servers=settings.url.split(","), connect_timeout=5, max_reconnect_attempts=2
    )
    try:
        js = nc.jetstream()
        for config in stream_configs(settings):
            try:
                await js.delete_stream(config.name)
            except NotFoundError:
                pass
    finally:
        await nc.close()


async def _drop_database(admin_url: str, database: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def bench_servers(
    database_url: str | None,
    nats_url: str | None,
    work_dir: Path,
    say: Callable[[str], None],
    nats_cluster: bool = False,
) -> AsyncIterator[BenchServers]:
    """Servers with a fresh, migrated database and declared streams; all removed on exit.
    ``nats_cluster`` starts a three-node cluster instead of using ``nats_url``."""
    run = uuid.uuid4().hex[:10]
    database = f"disparo_bench_{run}"
    prefix = f"bench{run}."
    if nats_cluster:
        nats_url = None
    embedded = database_url is None and nats_url is None
    async with AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, work_dir / "pg", ignore_errors=True)
        stack.callback(shutil.rmtree, work_dir / "nats", ignore_errors=True)
        stack.callback(shutil.rmtree, work_dir / "nats-cluster", ignore_errors=True)
        postgres_pid: int | None
        postgres: EmbeddedPostgres | None = None
        nats_server: EmbeddedNats | None = None
        if database_url is None:
            postgres = EmbeddedPostgres(work_dir / "pg", fast_and_unsafe=False)
            say(f"starting embedded Postgres in {postgres.data_dir}")
            await asyncio.to_thread(postgres.start)
            stack.push_async_callback(asyncio.to_thread, postgres.stop)
            admin_url = postgres.admin_url
            postgres_pid = _postmaster_pid(postgres.data_dir)
        else:
            admin_url = database_url
            port = _local_port(database_url, 5432)
            postgres_pid = listening_pid(port) if port else None
        nats_pid: int | None
        cluster: NatsCluster | None = None
        if nats_cluster:
            cluster = NatsCluster(work_dir / "nats-cluster")
            stack.callback(cluster.stop)
            say(f"starting a three-node NATS cluster in {work_dir / 'nats-cluster'}")
            nats_url = await cluster.start()
            nats_pid = None
        elif nats_url is None:
            nats_server = EmbeddedNats(work_dir / "nats")
            say(f"starting embedded NATS in {nats_server.store_dir}")
            nats_url = await asyncio.to_thread(nats_server.start)
            stack.push_async_callback(asyncio.to_thread, nats_server.stop)
            nats_pid = nats_server.pid
        else:
            port = _local_port(nats_url, 4222)
            nats_pid = listening_pid(port) if port else None

        admin = await asyncpg.connect(admin_url, timeout=10)
        try:
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        stack.push_async_callback(_drop_database, admin_url, database)
        run_url = _with_database(admin_url, database)
        await migrate(run_url, DISPATCHER.schema, DISPATCHER.migrations)

        settings = NatsSettings(
            url=nats_url, stream_prefix=prefix, replicas=3 if cluster is not None else 1
        )
        stack.push_async_callback(_drop_streams, settings)
        await declare_streams(settings)
        say(f"database {database} and streams {prefix}* ready")
        yield BenchServers(
            database_url=run_url,
            nats_url=nats_url,
            stream_prefix=prefix,
            postgres_pid=postgres_pid,
            nats_pid=nats_pid,
            embedded=embedded,
            postgres_server=postgres,
            nats_server=nats_server,
            nats_cluster=cluster,
            nats_replicas=settings.replicas,
        )
