"""Faults on demand: seeded randomness, sticky permanent failures, timeouts and latency."""

import time

from sim_helpers import (
    CLOUD_AUTH,
    CLOUD_URL,
    EVOLUTION_AUTH,
    EVOLUTION_URL,
    cloud_message,
    evolution_message,
    stats,
)


async def send_batch(client, count: int) -> list[int]:
    statuses = []
    for index in range(count):
        response = await client.post(
            CLOUD_URL, json=cloud_message(to=f"55119000{index:05d}"), headers=CLOUD_AUTH
        )
        statuses.append(response.status_code)
    return statuses


async def test_seeded_5xx_faults_replay_identically_after_reset(make_client):
    async with make_client(seed=7, error_5xx_rate=0.5) as client:
        first = await send_batch(client, 40)
        await client.post("/_sim/reset")
        second = await send_batch(client, 40)
        counts = await stats(client)

    assert first == second
    assert 5 < first.count(500) < 35
    assert counts["errors_5xx"] == second.count(500)
    assert counts["accepted"] == second.count(200)


async def test_permanent_failure_is_sticky_for_its_message_id(make_client):
    async with make_client(permanent_rate=1.0) as client:
        headers = {**CLOUD_AUTH, "X-Disparo-Message-Id": "msg-dead"}
        first = await client.post(CLOUD_URL, json=cloud_message(), headers=headers)
        await client.put("/_sim/faults", json={"permanent_rate": 0.0})

        retry = await client.post(CLOUD_URL, json=cloud_message(), headers=headers)
        other = await client.post(
            CLOUD_URL,
            json=cloud_message(),
            headers={**CLOUD_AUTH, "X-Disparo-Message-Id": "msg-alive"},
        )
        failures = (await client.get("/_sim/permanent-failures")).json()

    assert first.json()["error"]["code"] == 131026
    assert retry.json()["error"]["code"] == 131026
    assert other.status_code == 200
    assert failures == {"message_ids": ["msg-dead"]}


async def test_sticky_permanent_applies_across_dialects_to_evolution_as_exists_false(make_client):
    async with make_client(permanent_rate=1.0) as client:
        headers = {**EVOLUTION_AUTH, "X-Disparo-Message-Id": "msg-dead"}
        await client.post(EVOLUTION_URL, json=evolution_message(), headers=headers)
        await client.put("/_sim/faults", json={"permanent_rate": 0.0})

        retry = await client.post(EVOLUTION_URL, json=evolution_message(), headers=headers)

    assert retry.status_code == 400
    assert retry.json()["response"]["message"][0]["exists"] is False


async def test_timeout_holds_the_request_and_does_not_accept_it(make_client):
    async with make_client(timeout_rate=1.0, timeout_seconds=0.2) as client:
        started = time.perf_counter()
        response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        held = time.perf_counter() - started
        counts = await stats(client)

    assert held >= 0.2
    assert response.status_code == 504
    assert counts["timeouts"] == 1
    assert counts["accepted"] == 0


async def test_latency_delays_the_answer_within_the_configured_range(make_client):
    async with make_client(latency_ms=(100, 150)) as client:
        started = time.perf_counter()
        response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert 0.1 <= elapsed < 1.0


async def test_limit_violation_is_counted_even_when_a_fault_would_have_hidden_it(
    make_client, clock
):
    async with make_client(error_5xx_rate=0.0) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await client.put("/_sim/faults", json={"error_5xx_rate": 1.0})

        response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        counts = await stats(client)

    assert response.json()["error"]["code"] == 131056
    assert counts["violations"] == 1
    assert counts["errors_5xx"] == 0


async def test_failed_send_uses_no_capacity_so_an_immediate_retry_passes(make_client, clock):
    async with make_client(error_5xx_rate=1.0) as client:
        failed = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await client.delete("/_sim/faults")

        retry = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert failed.status_code == 500
    assert retry.status_code == 200
