"""The processes a dispatch benchmark runs: the simulator and N dispatcher replicas.

Wiring comes from the dev stack's ``stack_processes`` (the same keys, webhook URLs and sender
shapes ``disparo dev`` uses); the benchmark then sets the scenario on top: the senders' count,
dialect and rate, a send window open at every hour of every day (quiet hours would stop a run
at night), one port and replica id per dispatcher, and the timings a scenario needs.
"""

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from disparo.bench.load import BENCH_TEMPLATES
from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.processes import ProcessSpec, StackPorts, simulated_senders, stack_processes

EVOLUTION, CLOUD, MIXED = "evolution", "cloud", "mixed"
SIM_WEBHOOK_VARIABLES = ("SIM_EVOLUTION_WEBHOOK_URL", "SIM_CLOUD_WEBHOOK_URL")
PAIR_SPACING_SECONDS = 6.0

# Faults: the simulator holds a "timeout" request longer than the dispatcher waits for it.
FAULT_PROVIDER_TIMEOUT_SECONDS = 2.0
FAULT_SIMULATOR_HOLD_SECONDS = 3.0
# Kills: a dead replica's senders and in-flight messages come back in seconds, not minutes.
KILL_TIMINGS = {
    "DISPARO_DISPATCHER_SENDER_LEASE_SECONDS": "3",
    "DISPARO_DISPATCHER_SENDER_LEASE_RENEW_SECONDS": "1",
    "DISPARO_DISPATCHER_MESSAGE_LEASE_SECONDS": "15",
    # A doubtful send waits this long for its sent-echo before it is sent again. The simulator
    # posts Evolution webhooks one per request (as Evolution does), 2-3 per send, through three
    # workers, so at full load its webhook queue falls minutes behind the sends (29,000 events
    # queued after a 30,000-message run): a grace shorter than that lag resends messages whose
    # echo is still queued (~300 per kill at the default 30 s). The run notes the largest
    # webhook backlog seen, so the lag can be checked against this grace.
    "DISPARO_DISPATCHER_IN_DOUBT_GRACE_SECONDS": "300",
}
# Retries: short backoffs so a run's tail is not one unlucky message's 40 s wait.
RETRY_TIMINGS = {
    "DISPARO_DISPATCHER_RETRY_BASE_SECONDS": "1",
    "DISPARO_DISPATCHER_RETRY_MAX_SECONDS": "10",
}


@dataclass(frozen=True)
class StackShape:
    """What the scenario asks of the processes."""

    senders: int
    rate_per_second: int
    dialect: str
    replicas: int
    typing_indicator: bool
    webhooks: bool
    faults: bool
    kills: bool
    reporting: int = 0  # reporting replicas projecting the run's events (0: none)


def dialect_split(senders: int, dialect: str) -> tuple[int, int]:
    """(Evolution numbers, Cloud numbers): all of one, or half and half for ``mixed``."""
    if dialect == EVOLUTION:
        return senders, 0
    if dialect == CLOUD:
        return 0, senders
    if dialect == MIXED:
        return senders - senders // 2, senders // 2
    raise ValueError(f"unknown dialect {dialect!r}")


def dispatcher_overrides(shape: StackShape) -> dict[str, str]:
    """The dispatcher settings the benchmark changes from their defaults, by scenario."""
    env = {
        **ALWAYS_OPEN_WINDOW,
        **RETRY_TIMINGS,
        "DISPARO_DISPATCHER_PAIR_SPACING_SECONDS": str(PAIR_SPACING_SECONDS),
        "DISPARO_DISPATCHER_TYPING_INDICATOR": "true" if shape.typing_indicator else "false",
        # Sent-echoes arrive only through webhooks: without them the dispatcher must not wait
        # for echoes to settle a doubtful send (it retries instead).
        "DISPARO_DISPATCHER_PROVIDER_ECHOES": "true" if shape.webhooks else "false",
        "DISPARO_LOG_LEVEL": "WARNING",
    }
    if shape.faults:
        env["DISPARO_DISPATCHER_PROVIDER_TIMEOUT_SECONDS"] = str(FAULT_PROVIDER_TIMEOUT_SECONDS)
    if shape.kills:
        env.update(KILL_TIMINGS)
    return env


def inherited_dispatcher_env() -> dict[str, str]:
    """``DISPARO_DISPATCHER_*`` variables of this shell: the replicas inherit them (the
    benchmark's own overrides win), so the report shows them with the settings used."""
    return {k: v for k, v in os.environ.items() if k.startswith("DISPARO_DISPATCHER_")}


def bench_process_specs(
    shape: StackShape, database_url: str, nats_url: str, stream_prefix: str
) -> tuple[ProcessSpec, list[ProcessSpec], list[ProcessSpec]]:
    """The simulator's spec, one spec per dispatcher replica and one per reporting replica
    (``shape.reporting`` of them), all on free ports."""
    dispatcher_ports = [free_port() for _ in range(shape.replicas)]
    ports = StackPorts(
        campaign_api=free_port(),
        reporting=free_port(),
        dispatcher=dispatcher_ports[0],  # the simulator's webhooks go to the first replica
        followup=free_port(),
        simulator=free_port(),
    )
    evolution, cloud = dialect_split(shape.senders, shape.dialect)
    senders = simulated_senders(ports.url("simulator"), evolution, cloud, shape.rate_per_second)
    specs = {
        spec.name: spec
        for spec in stack_processes(
            ports,
            database_url,
            nats_url,
            evolution_numbers=evolution,
            cloud_numbers=cloud,
            common_env={"DISPARO_NATS_STREAM_PREFIX": stream_prefix},
            extra_env={
                "dispatcher": {
                    **dispatcher_overrides(shape),
                    "DISPARO_DISPATCHER_SENDERS": json.dumps(senders),
                    # 100,000 distinct doctors a run: a portfolio past the 100K tier.
                    "DISPARO_DISPATCHER_DEFAULT_MESSAGING_TIER": "TIER_UNLIMITED",
                },
                "simulator": {
                    "SIM_RATE_PER_SECOND": str(shape.rate_per_second),
                    "SIM_PAIR_SPACING_SECONDS": str(PAIR_SPACING_SECONDS),
                    "SIM_CLOUD_TEMPLATES": json.dumps(BENCH_TEMPLATES),
                },
            },
        )
    }
    simulator = specs["simulator"]
    if not shape.webhooks:
        env = {k: v for k, v in simulator.env.items() if k not in SIM_WEBHOOK_VARIABLES}
        simulator = replace(simulator, env=env)
    base = specs["dispatcher"]
    dispatchers = [
        replace(
            base,
            name=f"dispatcher-{n}",
            port=port,
            env={
                **base.env,
                "DISPARO_DISPATCHER_PORT": str(port),
                "DISPARO_DISPATCHER_REPLICA_ID": f"bench-{n}",
            },
        )
        for n, port in enumerate(dispatcher_ports, start=1)
    ]
    reporting = [
        replace(
            specs["reporting"],
            name=f"reporting-{n}",
            port=port,
            env={
                **specs["reporting"].env,
                "DISPARO_REPORTING_PORT": str(port),
                "DISPARO_LOG_LEVEL": "WARNING",
            },
        )
        for n, port in enumerate([free_port() for _ in range(shape.reporting)], start=1)
    ]
    return simulator, dispatchers, reporting


class LogFiles:
    """Each process's output in ``<folder>/<name>.log``; a restarted process appends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str, line: str) -> None:
        with self._lock:
            handle = self._files.get(name)
            if handle is None:
                handle = self._files[name] = open(  # noqa: SIM115 - closed in close()
                    self.folder / f"{name}.log", "a", encoding="utf-8"
                )
            handle.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()

    def paths(self) -> Mapping[str, Path]:
        return {name: self.folder / f"{name}.log" for name in self._files}
