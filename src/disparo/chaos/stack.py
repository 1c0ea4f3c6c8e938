"""The processes a chaos run starts, and the signals it sends them.

The whole stack as ``disparo dev`` wires it (``stack_processes``): the simulator, campaign-api,
reporting, followup and two dispatcher replicas, each a real OS process on a free port. The
simulator posts its webhooks to replica 2 (as a load balancer would to a live pod); the faults
kill and freeze replica 1 (and replica 2, webhooks and all, in a round of its own), and a replica
comes back under a new replica id each time, as a restarted pod does.

The provider is the hard case: the simulator posts no sent-echoes (an Evolution instance without
the SEND_MESSAGE webhook) and no Cloud ``sent`` statuses, so a send in flight at a crash is
settled by asking the provider (Evolution's ``findMessages``), never by a guess; on a Cloud
number, which cannot be asked, by the kind's policy: campaigns and follow-ups held for a person
(at most once), replies sent again (at least once). Leases are short so a fault heals in seconds.
"""

import json
import os
import signal
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.processes import (
    ManagedProcess,
    ProcessSpec,
    StackPorts,
    simulated_senders,
    stack_processes,
)
from disparo_shared.dev_secrets import DEV_API_KEY

API_KEY = DEV_API_KEY
PAIR_SPACING_SECONDS = 6.0
SENDER_LEASE_SECONDS = 3.0
MESSAGE_LEASE_SECONDS = 6.0
FROZEN_PAST_LEASE_SECONDS = MESSAGE_LEASE_SECONDS + SENDER_LEASE_SECONDS + 2.0
MAX_FOLLOWUPS = 1  # the run's first-contact rule: one follow-up per silent doctor
DISPATCHER_ENV = {
    **ALWAYS_OPEN_WINDOW,
    "DISPARO_DISPATCHER_SENDER_LEASE_SECONDS": str(SENDER_LEASE_SECONDS),
    "DISPARO_DISPATCHER_SENDER_LEASE_RENEW_SECONDS": "1",
    "DISPARO_DISPATCHER_MESSAGE_LEASE_SECONDS": str(MESSAGE_LEASE_SECONDS),
    "DISPARO_DISPATCHER_PROVIDER_TIMEOUT_SECONDS": "3",
    "DISPARO_DISPATCHER_RETRY_BASE_SECONDS": "0.5",
    "DISPARO_DISPATCHER_RETRY_MAX_SECONDS": "3",
    "DISPARO_DISPATCHER_PAIR_SPACING_SECONDS": str(PAIR_SPACING_SECONDS),
    "DISPARO_DISPATCHER_TYPING_INDICATOR": "false",
    # No echoes: a doubtful send is settled by asking the provider, or by the kind's policy.
    "DISPARO_DISPATCHER_PROVIDER_ECHOES": "false",
    "DISPARO_DISPATCHER_IN_DOUBT_LOOKUP_AFTER_SECONDS": "2",
    "DISPARO_DISPATCHER_IN_DOUBT_RESOLVE_INTERVAL_SECONDS": "0.5",
}
SIMULATOR_ENV = {
    "SIM_PAIR_SPACING_SECONDS": str(PAIR_SPACING_SECONDS),
    "SIM_SEND_ECHO": "false",
    "SIM_SENT_STATUS": "false",
    "SIM_LATENCY_MS": "[50, 250]",  # sends are in flight when a fault lands
    "SIM_READ_PROBABILITY": "0.3",
    "SIM_SEED": "13",
}


def followup_env(now: datetime) -> dict[str, str]:
    """The daily job's slot twelve hours away and no catch-up, so only the run starts it; a
    small batch, so a kill lands inside a job that is still requesting."""
    local = now.astimezone(ZoneInfo("America/Sao_Paulo")) + timedelta(hours=12)
    return {
        "DISPARO_FOLLOWUP_RUN_AT": local.strftime("%H:%M"),
        "DISPARO_FOLLOWUP_TIMEZONE": "America/Sao_Paulo",
        "DISPARO_FOLLOWUP_CATCH_UP_HOURS": "0",
        "DISPARO_FOLLOWUP_BATCH_SIZE": "20",
    }


@dataclass(frozen=True)
class ChaosSpecs:
    simulator: ProcessSpec
    services: dict[str, ProcessSpec]  # campaign-api, reporting, followup, dispatcher-1, -2

    def url(self, name: str) -> str:
        return (self.simulator if name == "simulator" else self.services[name]).url


def chaos_specs(
    database_url: str,
    nats_url: str,
    stream_prefix: str,
    *,
    nats_replicas: int,
    senders: int,
    cloud_senders: int,
    rate_per_second: int,
    now: datetime,
) -> ChaosSpecs:
    stable_port, victim_port = free_port(), free_port()
    ports = StackPorts(
        campaign_api=free_port(),
        reporting=free_port(),
        dispatcher=stable_port,  # the simulator's webhooks go to replica 2
        followup=free_port(),
        simulator=free_port(),
    )
    specs = {
        spec.name: spec
        for spec in stack_processes(
            ports,
            database_url,
            nats_url,
            evolution_numbers=senders,
            cloud_numbers=cloud_senders,
            common_env={
                "DISPARO_NATS_STREAM_PREFIX": stream_prefix,
                "DISPARO_NATS_REPLICAS": str(nats_replicas),
                "DISPARO_API_KEYS": json.dumps([API_KEY]),
                "DISPARO_DB_POOL_MAX_SIZE": "5",
                "DISPARO_LOG_LEVEL": "WARNING",
            },
            extra_env={
                "simulator": {**SIMULATOR_ENV, "SIM_RATE_PER_SECOND": str(rate_per_second)},
                "dispatcher": {
                    **DISPATCHER_ENV,
                    "DISPARO_DISPATCHER_SENDERS": json.dumps(
                        simulated_senders(
                            ports.url("simulator"), senders, cloud_senders, rate_per_second
                        )
                    ),
                },
                "campaign-api": {"DISPARO_CAMPAIGN_API_FANOUT_BATCH_SIZE": "5"},
                "followup": followup_env(now),
            },
        )
    }
    dispatcher = specs.pop("dispatcher")
    replicas = {
        f"dispatcher-{n}": replace(
            dispatcher,
            name=f"dispatcher-{n}",
            port=port,
            env={
                **dispatcher.env,
                "DISPARO_DISPATCHER_PORT": str(port),
                "DISPARO_DISPATCHER_REPLICA_ID": f"chaos-{n}",
            },
        )
        for n, port in ((1, victim_port), (2, stable_port))
    }
    simulator = specs.pop("simulator")
    return ChaosSpecs(simulator=simulator, services={**specs, **replicas})


class Processes:
    """The running processes by name; a restart makes a new incarnation of the same spec."""

    def __init__(self, specs: ChaosSpecs, sink) -> None:
        self.specs = specs
        self.sink = sink
        self.incarnations: dict[str, int] = {}
        self.running: dict[str, ManagedProcess] = {}

    def start(self, name: str) -> ManagedProcess:
        spec = self.specs.simulator if name == "simulator" else self.specs.services[name]
        number = self.incarnations.get(name, -1) + 1
        self.incarnations[name] = number
        if name.startswith("dispatcher-") and number:
            # a restarted pod is a new replica: its leases are not the dead one's
            env = {**spec.env, "DISPARO_DISPATCHER_REPLICA_ID": f"chaos-{name[-1]}-{number}"}
            spec = replace(spec, env=env)
        process = ManagedProcess(spec, self.sink)
        process.start()
        self.running[name] = process
        return process

    def replica_id(self, name: str) -> str:
        return self.running[name].spec.env["DISPARO_DISPATCHER_REPLICA_ID"]

    def kill9(self, name: str) -> None:
        self.running[name].kill()

    def freeze(self, name: str) -> None:
        os.kill(self._pid(name), signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        os.kill(self._pid(name), signal.SIGCONT)

    def _pid(self, name: str) -> int:
        pid = self.running[name].pid
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        return pid

    def all(self) -> list[ManagedProcess]:
        return list(self.running.values())
