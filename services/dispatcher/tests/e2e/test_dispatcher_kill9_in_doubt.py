"""``kill -9`` a dispatcher replica mid-run and restart it, twice: nothing lost, nothing doubled.

Processes, as in production: the simulator, replica A (the one killed) and replica B. The
simulator's webhooks go to B, as a load balancer would send them to a live pod. Each kill lands
while A has messages 'sending': some already taken by the simulator, some only claimed.

- With echoes (the simulator posts ``send.message`` / ``sent`` for every send): the taken ones
  are settled as sent by their echo, the others sent again after the grace.
- Without echoes (an Evolution instance without webhooks, a Cloud number whose statuses never
  come): Evolution's doubts are settled by asking it (``/chat/findMessages``); Cloud's cannot
  be, so those campaign messages are held for a person (at most once); the operator checks
  them and requeues, in one call, those that did not go out.

Counted at the simulator: every message accepted once. The run prints how many sends were in
flight at each kill (what the kill left in doubt) and how each doubt was settled.
"""

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import replace
from uuid import uuid4

import asyncpg
import httpx
import nats
import pytest

from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.processes import (
    SIM_CLOUD_TOKEN,
    SIM_EVOLUTION_KEY,
    ManagedProcess,
    ProcessSpec,
    simulated_senders,
    stop_all,
)
from disparo_shared.events import MessagesRequested, MessageTemplate, RequestedMessage
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

WAVE = 400  # published at the start and after each restart, so a restarted replica has work
BATCH = 100
RATE = 20  # per sender; 4 senders → 80 msg/s, so the run lasts long enough to kill twice
KILLS = 2
MESSAGES = WAVE * (KILLS + 1)
REPLICA_ENV = {
    "DISPARO_DISPATCHER_SENDER_LEASE_SECONDS": "2",
    "DISPARO_DISPATCHER_SENDER_LEASE_RENEW_SECONDS": "0.5",
    "DISPARO_DISPATCHER_MESSAGE_LEASE_SECONDS": "4",
    "DISPARO_DISPATCHER_PROVIDER_TIMEOUT_SECONDS": "1",
    "DISPARO_DISPATCHER_TYPING_INDICATOR": "false",
    "DISPARO_DISPATCHER_PAIR_SPACING_SECONDS": "0",
    "DISPARO_DISPATCHER_IN_DOUBT_GRACE_SECONDS": "2",
    # As short as the grace, so the test is quick; the test simulator keeps no send queue.
    "DISPARO_DISPATCHER_PROVIDER_PROCESSING_HORIZON_SECONDS": "2",
    "DISPARO_DISPATCHER_IN_DOUBT_RESOLVE_INTERVAL_SECONDS": "0.2",
    **ALWAYS_OPEN_WINDOW,
}


def _specs(database_url: str, nats_url: str, prefix: str, echoes: bool) -> tuple[ProcessSpec, ...]:
    sim_port, a_port, b_port = free_port(), free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{sim_port}"
    webhooks = f"http://127.0.0.1:{b_port}/webhooks"
    simulator = ProcessSpec(
        name="simulator",
        module="disparo_simulator",
        port=sim_port,
        env={
            "SIM_PORT": str(sim_port),
            "SIM_EVOLUTION_WEBHOOK_URL": f"{webhooks}/evolution",
            "SIM_CLOUD_WEBHOOK_URL": f"{webhooks}/cloud",
            "SIM_PAIR_SPACING_SECONDS": "0",
            "SIM_LATENCY_MS": "[100, 300]",  # sends are in flight when the kill lands
            "SIM_READ_PROBABILITY": "0",
            "SIM_SEED": "3",
            "SIM_SEND_ECHO": str(echoes).lower(),
            "SIM_SENT_STATUS": str(echoes).lower(),
            "SIM_CLOUD_REQUIRE_WINDOW": "false",  # free text to doctors who never wrote
        },
        ready_path="/health",
        docs_path=None,
    )
    common = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "DISPARO_NATS_STREAM_PREFIX": prefix,
        "DISPARO_API_KEYS": json.dumps([TEST_API_KEY]),
        "DISPARO_DB_POOL_MAX_SIZE": "5",
        "DISPARO_LOG_LEVEL": "WARNING",
        "DISPARO_DISPATCHER_SENDERS": json.dumps(
            simulated_senders(simulator_url, 2, 2, rate_per_second=RATE)
        ),
        "SIM_EVOLUTION_KEY": SIM_EVOLUTION_KEY,
        "SIM_CLOUD_TOKEN": SIM_CLOUD_TOKEN,
        # Hundreds of cold doctors on the Cloud numbers: past the 250 tier of a new portfolio.
        "DISPARO_DISPATCHER_DEFAULT_MESSAGING_TIER": "TIER_UNLIMITED",
        "DISPARO_DISPATCHER_PROVIDER_ECHOES": str(echoes).lower(),
        **REPLICA_ENV,
    }
    replicas = tuple(
        ProcessSpec(
            name=name,
            module="disparo_dispatcher",
            port=port,
            env={**common, "DISPARO_DISPATCHER_PORT": str(port)},
        )
        for name, port in (("replica-a", a_port), ("replica-b", b_port))
    )
    return simulator, *replicas


TEMPLATE_AT_META = {
    "name": "plantoes_recife",
    "body": "Olá! Temos plantões em Recife nesta semana. Tem interesse?",
}


async def _request_wave(nats_url: str, prefix: str, wave: int) -> list[str]:
    """Publish the ``wave``-th WAVE messages (one campaign text, distinct doctors) in batches.

    Waves, not everything at once: a restarted process can take seconds to start on a loaded
    machine, and the run must not be over by then.
    """
    ids = []
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for start in range(wave * WAVE, (wave + 1) * WAVE, BATCH):
            batch = []
            for n in range(start, start + BATCH):
                message_id = uuid4()
                ids.append(str(message_id))
                batch.append(
                    RequestedMessage(
                        message_id=message_id,
                        idempotency_key=f"kill9:{message_id}",
                        phone=f"+55119{n:08d}",
                        kind="campaign",
                        body="Olá! Temos plantões em Recife nesta semana. Tem interesse?",
                        # Cold doctors: the Cloud numbers send the template.
                        template=MessageTemplate(name="plantoes_recife", language="pt_BR"),
                    )
                )
            event = MessagesRequested(messages=batch)
            await js.publish(
                qualified(prefix, event.publish_subject),
                json.dumps(event.model_dump(mode="json")).encode(),
                headers={"Nats-Msg-Id": str(event.event_id)},
            )
    finally:
        await nc.close()
    return ids


async def _a_is_mid_send(db: asyncpg.Connection, replica_id: str) -> bool:
    """Replica A has messages 'sending' and the run is not near its end."""
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE state = 'sending' AND lease_owner = $1) AS mine,"
        " count(*) FILTER (WHERE state = 'queued') AS queued FROM dispatcher.all_messages",
        replica_id,
    )
    return row["mine"] >= 5 and row["queued"] >= 200


@pytest.mark.parametrize("echoes", [True, False], ids=["with-echoes", "without-echoes"])
async def test_kill_9_mid_run_loses_nothing_and_sends_nothing_twice(
    echoes, test_servers, database_url, nats_settings, db
):
    prefix = nats_settings.stream_prefix
    simulator, replica_a, replica_b = _specs(database_url, test_servers.nats_url, prefix, echoes)
    lines: dict[str, list[str]] = defaultdict(list)

    def sink(name: str, line: str) -> None:
        lines[name].append(line)

    processes = {
        "simulator": ManagedProcess(simulator, sink),
        "replica-a": _incarnation(replica_a, 0, sink),
        "replica-b": ManagedProcess(
            replace(replica_b, env={**replica_b.env, "DISPARO_DISPATCHER_REPLICA_ID": "replica-b"}),
            sink,
        ),
    }
    started = time.monotonic()
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            await asyncio.to_thread(process.wait_ready, 60)
        async with httpx.AsyncClient(base_url=simulator.url) as client:
            registered = await client.post("/_sim/templates", json=TEMPLATE_AT_META)
            registered.raise_for_status()
        ids = await _request_wave(test_servers.nats_url, prefix, 0)

        kills = []
        for incarnation in range(KILLS):
            owner = f"replica-a-{incarnation}"
            await eventually(lambda owner=owner: _a_is_mid_send(db, owner), timeout=20)
            # A new holder waits a second before its first send: let A's sends flow, then kill.
            await asyncio.sleep(1.5)
            in_flight = await db.fetchval(
                "SELECT count(*) FROM dispatcher.all_messages WHERE state = 'sending'"
                " AND lease_owner = $1",
                owner,
            )
            processes["replica-a"].kill()  # kill -9
            kills.append(in_flight)
            await asyncio.sleep(0.5)
            processes["replica-a"] = _incarnation(replica_a, incarnation + 1, sink)
            processes["replica-a"].start()
            await asyncio.to_thread(processes["replica-a"].wait_ready, 60)
            ids += await _request_wave(test_servers.nats_url, prefix, incarnation + 1)

        async def settled() -> bool:
            """Every message sent, or (without echoes) held for a person."""
            row = await db.fetchrow(
                "SELECT count(*) FILTER (WHERE state = 'sent') AS sent,"
                " count(*) FILTER (WHERE in_doubt_held_at IS NOT NULL) AS held"
                " FROM dispatcher.all_messages"
            )
            return row["sent"] + row["held"] == MESSAGES and row

        done = await eventually(settled, timeout=60, interval=0.25)
        held = done["held"]
        async with httpx.AsyncClient(base_url=simulator.url) as client:
            received = {s["message_id"] for s in (await client.get("/_sim/sends")).json()}
        held_ids = [
            r["message_id"]
            for r in await db.fetch(
                "SELECT message_id FROM dispatcher.all_messages WHERE in_doubt_held_at IS NOT NULL"
            )
        ]
        # The operator checks each held send (the doctor's chat) and requeues, in one call,
        # those that did not go out; the others stay held, counted, never sent twice.
        not_sent = [str(i) for i in held_ids if str(i) not in received]
        if not_sent:
            async with httpx.AsyncClient(base_url=replica_b.url) as client:
                answer = await client.post(
                    "/v1/in-doubt/requeue",
                    json={"message_ids": not_sent},
                    headers={"X-API-Key": TEST_API_KEY},
                )
            assert answer.json() == {"requeued": len(not_sent)}
        held_and_sent = held - len(not_sent)

        async def all_sent() -> bool:
            sent = await db.fetchval(
                "SELECT count(*) FROM dispatcher.all_messages WHERE state = 'sent'"
            )
            return sent + held_and_sent == MESSAGES

        await eventually(all_sent, timeout=40, interval=0.25)
        await asyncio.sleep(1.0)  # room for a wrong second send to show up

        async with httpx.AsyncClient(base_url=simulator.url) as client:
            stats = (await client.get("/_sim/stats")).json()
        rows = await db.fetch(
            "SELECT state, attempt, last_error_code, count(*) AS n FROM dispatcher.all_messages"
            " GROUP BY state, attempt, last_error_code ORDER BY 1, 2, 3"
        )
        summary = {
            "seconds": round(time.monotonic() - started, 1),
            "echoes": echoes,
            "sending_at_each_kill": kills,
            "held_for_a_person": held,
            "held_and_requeued": len(not_sent),
            "lookups": stats["lookups"],
            "accepted": stats["accepted"],
            "duplicates": stats["duplicates"],
            "echoes_posted": stats["echoes_posted"],
            "sent_statuses_posted": stats["sent_statuses_posted"],
            "webhook_failures": stats["webhook_failures"],
            "messages": [dict(r) for r in rows],
        }
        print("kill -9 run:", json.dumps(summary))
        assert stats["duplicates"] == 0
        assert stats["accepted"] == MESSAGES
        assert len(set(ids)) == MESSAGES
        async with httpx.AsyncClient(base_url=simulator.url) as client:
            sends = (await client.get("/_sim/sends")).json()
        assert {s["message_id"] for s in sends} == set(ids)  # none lost
        settled_without_resend = sum(
            r["n"] for r in rows if r["last_error_code"] == "lease_expired" and r["attempt"] == 1
        )
        # Some sends the killed replica made were settled by their echo or by asking.
        assert settled_without_resend > 0
        if not echoes:
            assert stats["echoes_posted"] == 0 and stats["sent_statuses_posted"] == 0
            assert stats["lookups"] > 0
    finally:
        stop_all(list(processes.values()), grace_seconds=5)
        for name, output in lines.items():
            print(f"===== {name} =====")
            print("\n".join(output[-40:]))


def _incarnation(spec: ProcessSpec, number: int, sink) -> ManagedProcess:
    """Replica A as started the ``number``-th time: a restarted pod gets a new replica id."""
    env = {**spec.env, "DISPARO_DISPATCHER_REPLICA_ID": f"replica-a-{number}"}
    return ManagedProcess(replace(spec, env=env), sink)
