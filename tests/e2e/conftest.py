"""The whole system as processes: four services and the simulator on free ports, for one module.

The stack runs against the test servers (``test_servers``) in a database cloned from the migrated
template and under a stream prefix of its own, so it shares nothing with other tests. Each
process's output is kept and printed when the module ends (pytest shows it for failures).
"""

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import nats
import pytest

from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.processes import ManagedProcess, StackPorts, stack_processes, stop_all
from disparo_shared.streams import stream_name
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually, with_database

# Short leases and backoffs so a crash is recovered in seconds, not the production minutes.
DISPATCHER_ENV = {
    "DISPARO_DISPATCHER_SENDER_LEASE_SECONDS": "2",
    "DISPARO_DISPATCHER_SENDER_LEASE_RENEW_SECONDS": "0.5",
    "DISPARO_DISPATCHER_MESSAGE_LEASE_SECONDS": "15",
    "DISPARO_DISPATCHER_PROVIDER_TIMEOUT_SECONDS": "3",
    "DISPARO_DISPATCHER_RETRY_BASE_SECONDS": "0.3",
    "DISPARO_DISPATCHER_RETRY_MAX_SECONDS": "1",
    "DISPARO_DISPATCHER_PAIR_SPACING_SECONDS": "0",
    # A crashed dispatcher's sends wait in doubt for the provider's echo this long, then go again.
    "DISPARO_DISPATCHER_IN_DOUBT_GRACE_SECONDS": "3",
    # As short as the grace, so the test is quick; the test simulator keeps no send queue.
    "DISPARO_DISPATCHER_PROVIDER_PROCESSING_HORIZON_SECONDS": "3",
}

# A campaign's follow-up plan may wait seconds, not the production 30 minutes, so a test tries
# a whole plan (as a team would try one on itself, with a rule set) without waiting.
CAMPAIGN_API_ENV = {"DISPARO_CAMPAIGN_API_FOLLOWUP_MIN_DELAY_SECONDS": "1"}


class Stack:
    """The running processes and clients for each of them."""

    def __init__(
        self,
        ports: StackPorts,
        processes: list[ManagedProcess],
        database_url: str,
        nats_url: str,
        stream_prefix: str,
    ) -> None:
        self.ports = ports
        self.processes = {p.name: p for p in processes}
        self.database_url = database_url
        self.nats_url = nats_url
        self.stream_prefix = stream_prefix
        headers = {"X-API-Key": TEST_API_KEY}
        self.api = httpx.AsyncClient(base_url=ports.url("campaign-api"), headers=headers)
        self.reporting = httpx.AsyncClient(base_url=ports.url("reporting"), headers=headers)
        self.simulator = httpx.AsyncClient(base_url=ports.url("simulator"))

    async def close(self) -> None:
        for client in (self.api, self.reporting, self.simulator):
            await client.aclose()

    # -- processes -------------------------------------------------------------------------

    def kill9(self, name: str) -> None:
        self.processes[name].kill()

    def restart(self, name: str) -> None:
        process = self.processes[name]
        process.stop()
        process.start()
        process.wait_ready(timeout=60)

    def start(self, name: str) -> None:
        self.processes[name].start()
        self.processes[name].wait_ready(timeout=60)

    # -- what the tests ask ----------------------------------------------------------------

    async def post_message(self, phone: str, body: str, key: str) -> httpx.Response:
        return await self.api.post(
            "/v1/messages",
            json={"phone": phone, "body": body},
            headers={"Idempotency-Key": key},
        )

    async def sends_of(self, message_id: str) -> list[dict]:
        answer = await self.simulator.get("/_sim/sends", params={"message_id": message_id})
        answer.raise_for_status()
        return answer.json()

    async def sim_stats(self) -> dict:
        answer = await self.simulator.get("/_sim/stats")
        answer.raise_for_status()
        return answer.json()

    async def reported_statuses(self, message_id: str) -> list[str]:
        answer = await self.reporting.get(f"/v1/messages/{message_id}")
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return [entry["status"] for entry in answer.json()["history"]]

    async def wait_sent(self, message_id: str, within_seconds: float = 30.0) -> None:
        """Until the simulator accepted ``message_id`` and reporting shows it sent."""

        async def sent_at_simulator():
            return len(await self.sends_of(message_id)) >= 1

        async def reported_sent():
            return "sent" in await self.reported_statuses(message_id)

        await eventually(sent_at_simulator, timeout=within_seconds)
        await eventually(reported_sent, timeout=within_seconds)

    async def settle(self, seconds: float = 2.0) -> None:
        """Give a wrong second send the time to happen before counting sends."""
        await asyncio.sleep(seconds)


def _print_output(processes: list[ManagedProcess], lines: dict[str, list[str]]) -> None:
    for process in processes:
        tail = lines[process.name][-60:]
        print(f"===== {process.name} (exit code {process.returncode}) =====")
        print("\n".join(tail))


@pytest.fixture(scope="module")
async def e2e_database_url(test_servers, template_database) -> AsyncIterator[str]:
    name = f"disparo_e2e_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(test_servers.database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
        yield with_database(test_servers.database_url, name)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def stack(test_servers, e2e_database_url) -> AsyncIterator[Stack]:
    prefix = f"e2e{uuid.uuid4().hex[:10]}."
    ports = StackPorts(*(free_port() for _ in range(5)))
    specs = stack_processes(
        ports,
        e2e_database_url,
        test_servers.nats_url,
        evolution_numbers=2,
        # Cloud numbers send cold doctors templates: the Cloud flows have their own stack
        # (test_e2e_cloud_templates); these tests send free text through Evolution numbers.
        cloud_numbers=0,
        common_env={
            "DISPARO_NATS_STREAM_PREFIX": prefix,
            "DISPARO_API_KEYS": json.dumps([TEST_API_KEY]),
            "DISPARO_DB_POOL_MAX_SIZE": "5",
            "DISPARO_LOG_LEVEL": "INFO",
            **ALWAYS_OPEN_WINDOW,
        },
        extra_env={"dispatcher": DISPATCHER_ENV, "campaign-api": CAMPAIGN_API_ENV},
    )
    lines: dict[str, list[str]] = defaultdict(list)
    processes = [
        ManagedProcess(spec, lambda name, line: lines[name].append(line)) for spec in specs
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
        running = Stack(ports, processes, e2e_database_url, test_servers.nats_url, prefix)
        yield running
        await running.close()
    finally:
        stop_all(processes, grace_seconds=10)
        _print_output(processes, lines)
        await _delete_streams(test_servers.nats_url, prefix)


async def _delete_streams(nats_url: str, prefix: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(stream_name(prefix, "")):
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@pytest.fixture
def phone() -> Iterator[str]:
    """A valid São Paulo mobile no other test uses."""
    yield f"+551198{uuid.uuid4().int % 10**7:07d}"


@pytest.fixture(autouse=True)
def every_process_stays_up(request) -> Iterator[None]:
    """Each test starts with every process running and fails if one died during it.

    A process found dead before a test (a crash in an earlier one, or a signal from outside)
    is restarted so the remaining tests still mean something; that earlier test has failed.
    """
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    for process in stack.processes.values():
        if process.returncode is not None:
            process.start()
            process.wait_ready(timeout=60)
    yield
    dead = {
        name: process.returncode
        for name, process in stack.processes.items()
        if process.returncode is not None
    }
    if dead:
        pytest.fail(f"processes exited during the test (name: exit code): {dead}")
