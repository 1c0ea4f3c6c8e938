"""The stack's processes: what each one runs, with which environment, and how it is watched.

``stack_processes`` says how the four services and the simulator are wired to each other (the
simulator posts webhooks to the dispatcher; the dispatcher's senders point at the simulator).
``ManagedProcess`` runs one of them as a child: its output goes line by line to a sink, it is
ready when its readiness URL answers 200, and it stops with SIGTERM, then SIGKILL after a grace
period. The dev stack and the end-to-end tests share both, so the tests run what people run.
"""

import collections
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from disparo.embedded import die_with_parent_hook
from disparo_shared.dev_secrets import (
    DEV_ENVIRONMENT,
    SIM_APP_SECRET,
    SIM_CLOUD_TOKEN,
    SIM_EVOLUTION_KEY,
)

__all__ = ["SIM_APP_SECRET", "SIM_CLOUD_TOKEN", "SIM_EVOLUTION_KEY"]

HOST = "127.0.0.1"
CLOUD_GRAPH_VERSION = "v21.0"


@dataclass(frozen=True)
class StackPorts:
    """One TCP port per process; the defaults are the documented ones."""

    campaign_api: int = 8000
    reporting: int = 8001
    dispatcher: int = 8002
    followup: int = 8003
    simulator: int = 8025
    console: int = 8080

    def url(self, name: str) -> str:
        return f"http://{HOST}:{getattr(self, name.replace('-', '_'))}"


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the stack: ``python -m <module>`` with ``env`` on top of the parent's."""

    name: str
    module: str
    port: int
    env: Mapping[str, str]
    ready_path: str = "/ready"
    docs_path: str | None = "/schema"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


SIM_WABA_ID = "100000000000001"
"""The simulator's Cloud account: every simulated Cloud number belongs to it."""
SIM_TEMPLATES = [
    {
        "name": "plantao_aviso",
        "language": "pt_BR",
        "category": "MARKETING",
        "body": "Olá, {{1}}! Temos um plantão de {{2}} para você. Podemos conversar?",
    }
]
"""Templates the simulated Cloud account has approved from the start (dev, e2e, benchmarks)."""


def simulated_senders(
    simulator_url: str, evolution_numbers: int, cloud_numbers: int, rate_per_second: int = 80
) -> list[dict[str, object]]:
    """Dispatcher senders that all live in the simulator: Evolution instances and Cloud ids."""
    senders: list[dict[str, object]] = []
    for n in range(1, evolution_numbers + 1):
        senders.append(
            {
                "sender_id": f"sim-evolution-{n}",
                "provider": "evolution",
                "address": f"sim-evolution-{n}",
                "base_url": simulator_url,
                "credential_ref": "env:SIM_EVOLUTION_KEY",
                "rate_per_second": rate_per_second,
            }
        )
    for n in range(1, cloud_numbers + 1):
        senders.append(
            {
                "sender_id": f"sim-cloud-{n}",
                "provider": "cloud",
                "address": f"1000000000{n:05d}",
                "base_url": f"{simulator_url}/{CLOUD_GRAPH_VERSION}",
                "credential_ref": "env:SIM_CLOUD_TOKEN",
                "rate_per_second": rate_per_second,
                "waba_id": SIM_WABA_ID,
                "display_phone_number": f"55119555{n:05d}",
            }
        )
    return senders


def stack_processes(
    ports: StackPorts,
    database_url: str,
    nats_url: str,
    *,
    evolution_numbers: int = 2,
    cloud_numbers: int = 1,
    common_env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
    with_console: bool = False,
) -> list[ProcessSpec]:
    """The simulator first, then the four services, wired to each other and to the servers.

    ``with_console`` adds the console last, pointed at the four services with the stack's API
    key (plain HTTP on loopback, so its cookies are not marked Secure here).

    Every service runs as ``DISPARO_ENV=dev`` with the public development secrets
    (``DEV_ENVIRONMENT``): this stack is the dev stack, the end-to-end tests' and the benchmarks'.
    ``common_env`` goes to every service (e.g. a stream prefix, API keys, send window);
    ``extra_env`` to one process by name, last, so it can override anything.
    """
    dispatcher_url = ports.url("dispatcher")
    simulator_url = ports.url("simulator")
    servers = {
        **DEV_ENVIRONMENT,
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        **(common_env or {}),
    }
    extra = extra_env or {}
    specs = [
        ProcessSpec(
            name="simulator",
            module="disparo_simulator",
            port=ports.simulator,
            env={
                "SIM_PORT": str(ports.simulator),
                "SIM_EVOLUTION_WEBHOOK_URL": f"{dispatcher_url}/webhooks/evolution",
                "SIM_CLOUD_WEBHOOK_URL": f"{dispatcher_url}/webhooks/cloud",
                "SIM_EVOLUTION_API_KEY": SIM_EVOLUTION_KEY,
                "SIM_CLOUD_ACCESS_TOKEN": SIM_CLOUD_TOKEN,
                "SIM_CLOUD_APP_SECRET": SIM_APP_SECRET,
                "SIM_CLOUD_TEMPLATES": json.dumps(SIM_TEMPLATES),
            },
            ready_path="/health",
            docs_path=None,
        ),
        ProcessSpec(
            name="dispatcher",
            module="disparo_dispatcher",
            port=ports.dispatcher,
            env={
                **servers,
                "DISPARO_DISPATCHER_PORT": str(ports.dispatcher),
                "DISPARO_DISPATCHER_SENDERS": json.dumps(
                    simulated_senders(simulator_url, evolution_numbers, cloud_numbers)
                ),
                "SIM_EVOLUTION_KEY": SIM_EVOLUTION_KEY,
                "SIM_CLOUD_TOKEN": SIM_CLOUD_TOKEN,
            },
        ),
        ProcessSpec(
            name="reporting",
            module="disparo_reporting",
            port=ports.reporting,
            env={**servers, "DISPARO_REPORTING_PORT": str(ports.reporting)},
        ),
        ProcessSpec(
            name="followup",
            module="disparo_followup",
            port=ports.followup,
            env={
                **servers,
                "DISPARO_FOLLOWUP_PORT": str(ports.followup),
                # asks the dispatcher's template registry when a rule set names a Cloud template
                "DISPARO_FOLLOWUP_DISPATCHER_URL": dispatcher_url,
                "DISPARO_FOLLOWUP_DISPATCHER_API_KEY": _first_api_key(servers),
            },
        ),
        ProcessSpec(
            name="campaign-api",
            module="disparo_campaign_api",
            port=ports.campaign_api,
            env={
                **servers,
                "DISPARO_CAMPAIGN_API_PORT": str(ports.campaign_api),
                # asks the dispatcher's template registry when a campaign names a Cloud template
                "DISPARO_CAMPAIGN_API_DISPATCHER_URL": dispatcher_url,
                "DISPARO_CAMPAIGN_API_DISPATCHER_API_KEY": _first_api_key(servers),
            },
        ),
    ]
    if with_console:
        specs.append(console_process(ports, servers))
    return [
        ProcessSpec(**{**spec.__dict__, "env": {**spec.env, **extra.get(spec.name, {})}})
        for spec in specs
    ]


def _first_api_key(servers: Mapping[str, str]) -> str:
    """The stack's first clear API key (dev and tests list clear keys), for service clients."""
    api_keys = json.loads(servers.get("DISPARO_API_KEYS", "[]"))
    return api_keys[0] if api_keys and isinstance(api_keys[0], str) else ""


def console_process(ports: StackPorts, servers: Mapping[str, str]) -> ProcessSpec:
    """The console, a client of the four services' HTTP APIs with the stack's first API key."""
    return ProcessSpec(
        name="console",
        module="disparo_console",
        port=ports.console,
        env={
            **servers,
            "DISPARO_CONSOLE_PORT": str(ports.console),
            "DISPARO_CONSOLE_CAMPAIGN_API_URL": ports.url("campaign-api"),
            "DISPARO_CONSOLE_REPORTING_URL": ports.url("reporting"),
            "DISPARO_CONSOLE_DISPATCHER_URL": ports.url("dispatcher"),
            "DISPARO_CONSOLE_FOLLOWUP_URL": ports.url("followup"),
            "DISPARO_CONSOLE_API_KEY": _first_api_key(servers),
            "DISPARO_CONSOLE_SECURE_COOKIES": "false",
        },
        docs_path=None,
    )


class ProcessFailed(RuntimeError):
    """A process exited or never became ready; the message carries its last output."""


@dataclass
class ManagedProcess:
    """One child process of the stack, its output and its lifecycle."""

    spec: ProcessSpec
    sink: Callable[[str, str], None]  # (process name, line)
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _process: subprocess.Popen | None = field(init=False, default=None)
    _pump: threading.Thread | None = field(init=False, default=None)
    _last_lines: collections.deque = field(
        init=False, default_factory=lambda: collections.deque(maxlen=40)
    )
    stopping: bool = field(init=False, default=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def last_output(self) -> str:
        return "\n".join(self._last_lines)

    def start(self) -> None:
        env = {**self.base_env, "PYTHONUNBUFFERED": "1", **self.spec.env}
        self.stopping = False
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own session: the terminal's Ctrl-C reaches only the supervisor, which stops the
            # children in order instead of all of them racing at once.
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),  # noqa: PLW1509 (one prctl call, see there)
        )
        self._pump = threading.Thread(
            target=self._pump_output, args=(self._process,), daemon=True, name=f"log-{self.name}"
        )
        self._pump.start()

    def _pump_output(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._last_lines.append(line)
            self.sink(self.name, line)

    def wait_ready(
        self, timeout: float = 60.0, cancelled: Callable[[], bool] = lambda: False
    ) -> None:
        """Block until ``ready_path`` answers 200; raise ``ProcessFailed`` if the process dies."""
        url = f"{self.spec.url}{self.spec.ready_path}"
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if cancelled():
                    raise KeyboardInterrupt
                code = self.returncode
                if code is not None:
                    raise ProcessFailed(
                        f"{self.name} exited with code {code} before it was ready:\n"
                        f"{self.last_output()}"
                    )
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ProcessFailed(
                        f"{self.name} was not ready at {url} after {timeout:.0f}s:\n"
                        f"{self.last_output()}"
                    )
                time.sleep(0.1)

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM): it finishes in-flight work and exits."""
        self.stopping = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def kill(self) -> None:
        """SIGKILL: the crash the system must survive (``kill -9``)."""
        self.stopping = True
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def wait(self, timeout: float) -> bool:
        """Wait for exit; True when it exited within ``timeout`` seconds."""
        if self._process is None:
            return True
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._pump is not None:
            self._pump.join(timeout=2.0)
        return True

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM, wait up to ``grace_seconds``, then SIGKILL."""
        self.terminate()
        if not self.wait(grace_seconds):
            self.kill()
            self.wait(5.0)


def stop_all(processes: list[ManagedProcess], grace_seconds: float = 10.0) -> None:
    """Stop every process: all get SIGTERM at once, laggards SIGKILL after the grace period."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        if not process.wait(max(0.0, deadline - time.monotonic())):
            process.kill()
            process.wait(5.0)
