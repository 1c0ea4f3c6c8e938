"""A three-node JetStream cluster loses a node, then another, then the stream leader: nothing lost.

Three ``nats-server`` processes of this test's own on loopback (never the shared server) form a
cluster; the streams have three replicas and the dispatcher and the simulator run as processes,
the dispatcher given all three URLs. While it sends a run of messages requested on the bus, one
node is killed (``kill -9``) and restarted, then another, then whichever node leads the
commands stream. By the simulator's own log every message is sent once: none lost, none twice.
It prints, per fault, the seconds from the kill until the node was back and JetStream answered
(a wave of requests is published while the node is down).
"""

import asyncio
import json
import time
from uuid import uuid4

import httpx
import nats
import pytest
from nats.errors import Error as NatsError

from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.nats_cluster import NatsCluster, jetstream_answers, stream_leader
from disparo.processes import (
    SIM_CLOUD_TOKEN,
    SIM_EVOLUTION_KEY,
    ManagedProcess,
    ProcessSpec,
    simulated_senders,
    stop_all,
)
from disparo_shared.events import MessagesRequested, RequestedMessage, subjects
from disparo_shared.streams import qualified, stream_name
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

WAVE = 100  # requested before the faults and during each of the three
BATCH = 50


def _specs(database_url: str, urls: str, prefix: str) -> tuple[ProcessSpec, ProcessSpec]:
    sim_port, dispatcher_port = free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{sim_port}"
    simulator = ProcessSpec(
        name="simulator",
        module="disparo_simulator",
        port=sim_port,
        env={
            "SIM_PORT": str(sim_port),
            "SIM_EVOLUTION_WEBHOOK_URL": f"http://127.0.0.1:{dispatcher_port}/webhooks/evolution",
            "SIM_CLOUD_WEBHOOK_URL": f"http://127.0.0.1:{dispatcher_port}/webhooks/cloud",
            "SIM_PAIR_SPACING_SECONDS": "0",
            "SIM_READ_PROBABILITY": "0",
        },
        ready_path="/health",
        docs_path=None,
    )
    dispatcher = ProcessSpec(
        name="dispatcher",
        module="disparo_dispatcher",
        port=dispatcher_port,
        env={
            "DATABASE_URL": database_url,
            "NATS_URL": urls,
            "DISPARO_NATS_STREAM_PREFIX": prefix,
            "DISPARO_NATS_REPLICAS": "3",
            "DISPARO_API_KEYS": json.dumps([TEST_API_KEY]),
            "DISPARO_DB_POOL_MAX_SIZE": "5",
            "DISPARO_LOG_LEVEL": "WARNING",
            "DISPARO_DISPATCHER_PORT": str(dispatcher_port),
            "DISPARO_DISPATCHER_SENDERS": json.dumps(
                simulated_senders(simulator_url, 3, 0, rate_per_second=10)
            ),
            "DISPARO_DISPATCHER_PAIR_SPACING_SECONDS": "0",
            "DISPARO_DISPATCHER_TYPING_INDICATOR": "false",
            "SIM_EVOLUTION_KEY": SIM_EVOLUTION_KEY,
            "SIM_CLOUD_TOKEN": SIM_CLOUD_TOKEN,
            **ALWAYS_OPEN_WINDOW,
        },
    )
    return simulator, dispatcher


async def _publish(urls: str, prefix: str, start: int, count: int) -> list[str]:
    """Request ``count`` messages; a publish that meets an election is retried under its id."""
    ids = []
    nc = await nats.connect(servers=urls.split(","), max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=5)
        for first in range(start, start + count, BATCH):
            batch = []
            for n in range(first, first + BATCH):
                message_id = uuid4()
                ids.append(str(message_id))
                batch.append(
                    RequestedMessage(
                        message_id=message_id,
                        idempotency_key=f"cluster:{message_id}",
                        phone=f"+55119{n:08d}",
                        kind="campaign",
                        body="Olá! Temos plantões nesta semana.",
                    )
                )
            event = MessagesRequested(messages=batch)
            for _ in range(30):
                try:
                    await js.publish(
                        qualified(prefix, event.publish_subject),
                        event.model_dump_json().encode(),
                        headers={"Nats-Msg-Id": str(event.event_id)},
                    )
                    break
                except (NatsError, TimeoutError):
                    await asyncio.sleep(0.5)
            else:
                raise AssertionError("the cluster took no publish for 15 s")
    finally:
        await nc.close()
    return ids


@pytest.mark.timeout(900)
async def test_losing_nodes_and_the_stream_leader_loses_nothing(
    tmp_path, database_url, nats_settings
):
    cluster = NatsCluster(tmp_path)
    prefix = nats_settings.stream_prefix
    processes: list[ManagedProcess] = []
    lines: list[str] = []
    recovery: dict[str, float] = {}
    try:
        for node in cluster.nodes:
            cluster.start_node(node)
        await eventually(lambda: jetstream_answers(cluster.urls), timeout=60, interval=0.5)
        simulator, dispatcher = _specs(database_url, cluster.urls, prefix)
        processes = [
            ManagedProcess(spec, lambda name, line: lines.append(f"{name}: {line}"))
            for spec in (simulator, dispatcher)
        ]
        for process in processes:
            process.start()
        for process in processes:
            await asyncio.to_thread(process.wait_ready, 90)

        ids = await _publish(cluster.urls, prefix, 0, WAVE)
        commands = stream_name(prefix, subjects.STREAM_COMMANDS)
        for fault in ("n1", "n2", "leader"):
            if fault == "leader":
                fault = await stream_leader(cluster.urls, commands) or "n3"
            victim = cluster.node(fault)
            victim.kill()  # kill -9
            began = time.monotonic()
            ids += await _publish(cluster.urls, prefix, len(ids), WAVE)
            cluster.start_node(victim)
            await eventually(lambda: jetstream_answers(cluster.urls), timeout=60, interval=0.5)
            recovery[f"{fault} ({victim.name})"] = round(time.monotonic() - began, 1)

        async with httpx.AsyncClient(base_url=simulator.url) as client:

            async def all_sent() -> bool:
                sends = (await client.get("/_sim/sends")).json()
                return set(ids) <= {s["message_id"] for s in sends}

            await eventually(all_sent, timeout=240, interval=1.0)
            await asyncio.sleep(2.0)  # room for a wrong second send to show up
            stats = (await client.get("/_sim/stats")).json()
        print(
            "cluster run:",
            json.dumps(
                {
                    "messages": len(ids),
                    "recovery_seconds": recovery,
                    "accepted": stats["accepted"],
                    "duplicates": stats["duplicates"],
                }
            ),
        )
        assert stats["duplicates"] == 0
        assert stats["accepted"] == len(ids)
    finally:
        stop_all(processes, grace_seconds=10)
        cluster.stop()
        print("\n".join(lines[-60:]))
