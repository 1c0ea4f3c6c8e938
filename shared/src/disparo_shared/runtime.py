"""What every service does at start and stop, in one place.

A service declares a ``ServiceSpec`` (name, schema, migrations) and hands ``serve`` its
controllers, its subscriber registration and its background workers. The runtime applies
migrations, opens the pool, declares the streams, starts the broker, the outbox relay and the
workers, serves HTTP, and on SIGTERM stops all of it in reverse order.
"""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import prometheus_client
import uvicorn
from faststream.nats import NatsBroker
from litestar import Litestar
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from disparo_shared.audit import AuditLog
from disparo_shared.broker import create_broker
from disparo_shared.bus_rights import BusRights, Consumer
from disparo_shared.consumer_filters import broker_answers, follow_subscriber_subjects
from disparo_shared.db import create_pool
from disparo_shared.http import create_http_app
from disparo_shared.kernel_metrics import watch_kernel_metrics
from disparo_shared.logging import configure_logging, get_logger
from disparo_shared.loop_lag import watch_event_loop_lag
from disparo_shared.migrations import migrate
from disparo_shared.nats_connection import connect, old_server_warning
from disparo_shared.outbox import OutboxRelay
from disparo_shared.phone_digests import rekey_legacy_digests
from disparo_shared.secrets import require_secrets
from disparo_shared.settings import (
    DatabaseSettings,
    DeploymentSettings,
    HttpSettings,
    NatsSettings,
    TelemetrySettings,
)
from disparo_shared.streams import ensure_streams, stream_name
from disparo_shared.telemetry import configure_tracing

log = get_logger(__name__)

# Each try of the broker's first JetStream lookup (``broker_answers``); tried again for a minute.
BROKER_PROBE_SECONDS = 5.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    schema: str
    migrations: Path
    bus: BusRights = field(default_factory=BusRights)
    """What the service publishes and consumes; its NATS user's permissions come from this."""
    version: str = "0.1.0"
    phone_digest_tables: tuple[str, ...] = ()
    """Tables keeping erased phones as keyed digests (``phone_digests.py``): the service needs
    DISPARO_PHONE_DIGEST_KEY, and rewrites their pre-key SHA-256 rows at start."""


@dataclass
class KernelSettings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    nats: NatsSettings = field(default_factory=NatsSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)


class Runtime:
    """The live resources of a service; filled in at start, read by handlers and workers."""

    def __init__(self, spec: ServiceSpec, settings: KernelSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.tracer_provider = configure_tracing(spec.name, settings.telemetry)
        self.broker: NatsBroker = create_broker(settings.nats, spec.name, self.tracer_provider)
        self._pool: asyncpg.Pool | None = None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.spec.name} is not started: no database pool yet")
        return self._pool

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError(f"{self.spec.name} is not started: no JetStream context yet")
        return self._js

    async def check_database(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def check_not_draining(self) -> None:
        """Not ready once the preStop hook created the drain file (see ``drain_file``)."""
        drain_file = self.settings.deployment.drain_file
        if drain_file is not None and drain_file.exists():
            raise ConnectionAbortedError("draining: the pod is stopping")

    async def check_nats(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")

    async def _watch_kernel_metrics(self) -> None:
        await watch_kernel_metrics(
            self.pool,
            self.js,
            self.settings.nats.stream_prefix,
            self.spec.name,
            self.spec.bus.consumes,
            self.settings.telemetry.kernel_metrics_interval_seconds,
        )

    @contextlib.asynccontextmanager
    async def running(
        self, workers: Sequence[Callable[["Runtime"], Awaitable[None]]]
    ) -> AsyncIterator[None]:
        """Start everything the service needs, yield while it serves, stop in reverse."""
        if self.settings.database.migrate_at_start:
            await migrate(self.settings.database.url, self.spec.schema, self.spec.migrations)
        self._pool = await create_pool(self.settings.database, self.spec.schema)
        if self.spec.phone_digest_tables:
            async with self._pool.acquire() as conn, conn.transaction():
                await rekey_legacy_digests(conn, self.spec.phone_digest_tables)
        self._nc = await connect(self.settings.nats, self.spec.name, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()
        if warning := old_server_warning(self._nc):
            log.warning(warning, service=self.spec.name)
        if self.settings.nats.manage_streams:
            await ensure_streams(self._js, self.settings.nats)
        if self.settings.nats.user:
            missing = undeclared_consumers(self.spec, self.broker, self.settings.nats.stream_prefix)
            if missing:
                raise RuntimeError(
                    f"{self.spec.name}: consumers {missing} are not in ServiceSpec.bus.consumes, "
                    "so its NATS user may not read them"
                )
        await follow_subscriber_subjects(self._js, self.broker)
        await broker_answers(self.broker, BROKER_PROBE_SECONDS)
        await self.broker.start()
        relay = OutboxRelay(
            self._pool,
            self._js,
            self.settings.nats.stream_prefix,
            max_payload=self._nc.max_payload,
            schema=self.spec.schema,
        )
        tasks = [
            asyncio.create_task(
                supervise(f"{self.spec.name}.outbox_relay", relay.run), name="outbox_relay"
            ),
            asyncio.create_task(
                supervise(f"{self.spec.name}.kernel_metrics", self._watch_kernel_metrics),
                name="kernel_metrics",
            ),
            asyncio.create_task(
                supervise(
                    f"{self.spec.name}.event_loop_lag",
                    lambda: watch_event_loop_lag(self.spec.name),
                ),
                name="event_loop_lag",
            ),
            *(
                asyncio.create_task(
                    supervise(f"{self.spec.name}.{w.__name__}", lambda w=w: w(self)),
                    name=w.__name__,
                )
                for w in workers
            ),
        ]
        log.info("service started", service=self.spec.name)
        try:
            yield
        finally:
            await self._stop(tasks)

    async def _stop(self, tasks: list[asyncio.Task]) -> None:
        """Stop in reverse order within ``stop_seconds`` (less the in-flight requests' share,
        spent before), whatever each part is doing.

        Workers get most of the time (the dispatcher drains in-flight sends, flushes and gives
        its leases back); the broker (in-flight handlers, acks), NATS (drain) and the pool
        share the rest, each bounded by what is left. A part that overruns is abandoned and
        named in the log, and the pool is terminated rather than waited for: a stuck stop
        would only be killed later, with less said about why.
        """
        loop = asyncio.get_running_loop()
        budget = self.settings.deployment.stop_seconds * (1 - HTTP_SHARE)
        deadline = loop.time() + budget
        workers_until = loop.time() + budget * WORKERS_SHARE
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, workers_until - loop.time()))
        if pending:
            log.error(
                "workers did not stop in time; abandoned",
                service=self.spec.name,
                workers=sorted(task.get_name() for task in pending),
            )
        await _bounded("broker", self.broker.stop(), deadline, share=1 / 3)
        if not await _bounded("nats", self._nc.drain(), deadline, share=1 / 2):
            await _bounded("nats close", self._nc.close(), deadline, share=1 / 2)
        if not await _bounded("pool", self._pool.close(), deadline, share=1.0):
            self._pool.terminate()
        log.info("service stopped", service=self.spec.name)


WORKERS_SHARE = 0.6  # of stop_seconds, for the workers' own drain
HTTP_SHARE = 0.25  # of stop_seconds, for in-flight HTTP requests before the lifespan stops


async def _bounded(step: str, stopping: Awaitable[object], deadline: float, share: float) -> bool:
    """Await one stop step for ``share`` of the time left before ``deadline``; True when it
    finished (an error is logged: a failed stop step must not keep the next from running)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(max(0.05, (deadline - loop.time()) * share)):
            await stopping
    except TimeoutError:
        log.error("stop step overran its time; abandoned", step=step)
        return False
    except Exception as exc:  # noqa: BLE001 - every step must get its turn
        log.warning("stop step failed", step=step, error=repr(exc))
        return False
    return True


def undeclared_consumers(spec: ServiceSpec, broker: NatsBroker, prefix: str) -> list[str]:
    """The broker's subscribers that ``spec.bus.consumes`` does not declare, as ``stream/durable``.

    On a closed bus their NATS user may not read them: the server refuses the consumer.
    """
    declared = set(spec.bus.consumes)
    missing = []
    for subscriber in broker.subscribers:
        stream = getattr(subscriber, "stream", None)
        config = getattr(subscriber, "config", None)
        durable = getattr(config, "durable_name", None)
        unprefixed = stream.name.removeprefix(stream_name(prefix, "")) if stream else "?"
        if durable is None or Consumer(unprefixed, durable) not in declared:
            missing.append(f"{unprefixed}/{durable}")
    return missing


async def supervise(
    name: str, run: Callable[[], Awaitable[None]], backoff_seconds: float = 1.0
) -> None:
    """Keep a background loop alive: a crash is logged and the loop restarts after a pause."""
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task crashed; restarting", task=name)
            await asyncio.sleep(backoff_seconds)


def build_app(
    runtime: Runtime,
    route_handlers: Sequence[ControllerRouterHandler],
    workers: Sequence[Callable[[Runtime], Awaitable[None]]] = (),
    secrets: Mapping[str, str | Sequence[str]] | None = None,
) -> Litestar:
    """The service's ASGI app: shared edge, its controllers, and the runtime as lifespan.

    ``secrets`` are the service's own (by variable name), checked before anything starts (the
    edge checks the API keys): in production a missing, public or short one stops the process.
    """
    if runtime.spec.phone_digest_tables:
        secrets = {
            **(secrets or {}),
            "DISPARO_PHONE_DIGEST_KEY": runtime.settings.database.phone_digest_key,
        }
    require_secrets(runtime.settings.deployment.env, secrets or {})

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with runtime.running(workers):
            yield

    app = create_http_app(
        service_name=runtime.spec.name,
        version=runtime.spec.version,
        route_handlers=route_handlers,
        http=runtime.settings.http,
        mode=runtime.settings.deployment.env,
        readiness_checks=[runtime.check_not_draining, runtime.check_database],
        degraded_checks={"nats": runtime.check_nats},
        audit=AuditLog(lambda: runtime.pool),
        lifespan=[lifespan],
    )
    app.state.runtime = runtime  # lets tests compare the wired subscribers with the spec
    return app


def serve(app: Litestar, settings: KernelSettings, port: int) -> None:
    """Run ``app`` under uvicorn with our logging; returns when the process is told to stop."""
    configure_logging(settings.telemetry.log_level, settings.telemetry.log_json)
    tune_garbage_collector()
    serve_metrics_apart(settings.http)
    uvicorn.run(
        app,
        host=settings.http.host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # In-flight requests get a share of the stop; the lifespan's stop bounds the rest.
        timeout_graceful_shutdown=max(1, int(settings.deployment.stop_seconds * HTTP_SHARE)),
    )


def serve_metrics_apart(settings: HttpSettings) -> None:
    """Serve the process's Prometheus registry on ``metrics_port`` too, from a daemon thread, so
    a network policy can open that port to the monitoring namespace and nothing else."""
    if settings.metrics_port is not None:
        prometheus_client.start_http_server(settings.metrics_port, addr=settings.host)


def tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector off the hot path of a busy service.

    A service allocates many short-lived containers per event (models, dicts, rows) and frees
    them by reference counting; with the default thresholds the collector still ran every 700
    allocations and its full passes walked every module and validator loaded at start (perf, on
    a million-message campaign intake: ~9% of all CPU). What exists at start is frozen out of
    the collector's walks, and young collections run less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
