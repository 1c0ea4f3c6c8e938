"""How a caller learns a send's fate from webhooks alone: Cloud's ``sent`` status, Evolution's
``send.message`` echo, and Cloud failures reported after a 200 (``async_failures``)."""

import asyncio
import json

import pytest
from sim_helpers import (
    CLOUD_AUTH,
    CLOUD_URL,
    EVOLUTION_AUTH,
    EVOLUTION_URL,
    cloud_message,
    evolution_message,
    stats,
)

from disparo_simulator import SimulatorSettings
from disparo_simulator.outcomes import Dialect, SendRequest, Verdict
from disparo_simulator.provider import SimulatedProvider

QUIET = {
    "delivered_after_seconds": 0.01,
    "read_probability": 0.0,
    "reply_probability": 0.0,
    "cloud_require_window": False,  # these doctors never wrote; the window has its own tests
}


def statuses(webhooks) -> list[dict]:
    """Every status in ``webhooks``, in the order posted, however they were batched."""
    return [
        status
        for webhook in webhooks
        for entry in json.loads(webhook.body)["entry"]
        for change in entry["changes"]
        for status in change["value"].get("statuses", [])
    ]


async def settle(client) -> dict:
    """Stats once every scheduled webhook has been posted."""
    for _ in range(200):
        counts = await stats(client)
        if counts["webhooks_pending"] == 0 and counts["webhook_backlog"] == 0:
            return counts
        await asyncio.sleep(0.01)
    raise AssertionError("webhooks still pending")


async def test_cloud_sent_status_comes_first_with_wamid_and_callback_data(
    make_client, webhook_receiver
):
    async with make_client(cloud_webhook_url=webhook_receiver.url, **QUIET) as client:
        response = await client.post(
            CLOUD_URL, json=cloud_message(biz_opaque_callback_data="msg-1"), headers=CLOUD_AUTH
        )
        await webhook_receiver.wait_for(2)
        counts = await settle(client)

    wamid = response.json()["messages"][0]["id"]
    sent, delivered = statuses(webhook_receiver.received)
    assert sent == {
        "id": wamid,
        "status": "sent",
        "timestamp": sent["timestamp"],
        "recipient_id": "5511987654321",
        "biz_opaque_callback_data": "msg-1",
    }
    assert delivered["status"] == "delivered"
    assert counts["sent_statuses_posted"] == 1


async def test_cloud_sent_status_can_be_turned_off_at_runtime(make_client, webhook_receiver):
    async with make_client(cloud_webhook_url=webhook_receiver.url, **QUIET) as client:
        await client.put("/_sim/config", json={"sent_status": False})
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await webhook_receiver.wait_for(1)
        counts = await settle(client)

    assert [status["status"] for status in statuses(webhook_receiver.received)] == ["delivered"]
    assert counts["sent_statuses_posted"] == 0


async def test_evolution_echoes_every_send_as_send_message(make_client, webhook_receiver):
    async with make_client(evolution_webhook_url=webhook_receiver.url, **QUIET) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(text="Plantão sábado?"), headers=EVOLUTION_AUTH
        )
        echo, delivered = await webhook_receiver.wait_for(2)
        counts = await settle(client)

    answer = response.json()
    event = json.loads(echo.body)
    assert echo.headers["apikey"] == "sim-evolution-key"
    assert event["event"] == "send.message"
    assert event["instance"] == "recruiter-1"
    assert event["apikey"] == "sim-evolution-key"
    assert event["data"]["key"] == {
        "remoteJid": "5511987654321@s.whatsapp.net",
        "fromMe": True,
        "id": answer["key"]["id"],
    }
    assert event["data"]["message"] == {"conversation": "Plantão sábado?"}
    assert event["data"]["messageTimestamp"] == answer["messageTimestamp"]
    assert event["data"]["status"] == "PENDING"
    assert json.loads(delivered.body)["event"] == "messages.update"
    assert counts["echoes_posted"] == 1


async def test_evolution_echo_can_be_turned_off(make_client, webhook_receiver):
    config = {**QUIET, "send_echo": False}
    async with make_client(evolution_webhook_url=webhook_receiver.url, **config) as client:
        await client.post(EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH)
        (delivered,) = await webhook_receiver.wait_for(1)
        counts = await settle(client)

    assert json.loads(delivered.body)["event"] == "messages.update"
    assert counts["echoes_posted"] == 0


@pytest.mark.parametrize("dialect", list(Dialect))
async def test_sent_word_arrives_while_the_answer_is_still_held(webhook_receiver, dialect):
    """A caller whose call timed out (or who crashed mid-call) still learns the send went out."""
    settings = SimulatorSettings(
        **{f"{dialect.value}_webhook_url": webhook_receiver.url},
        **QUIET,
        latency_ms=(1500, 1500),
    )
    provider = SimulatedProvider(settings)
    await provider.poster.start()
    try:
        call = asyncio.create_task(
            provider.submit(SendRequest(dialect, "1234567890", "5511987654321", "Oi", "m-1"))
        )
        first = (await webhook_receiver.wait_for(1, timeout=1.4))[0]
        answered_before_the_word = call.done()
        result = await call
    finally:
        await provider.poster.stop()

    event = json.loads(first.body)
    assert not answered_before_the_word
    assert result.verdict is Verdict.ACCEPTED
    if dialect is Dialect.CLOUD:
        assert statuses([first])[0]["id"] == result.provider_message_id
        assert statuses([first])[0]["status"] == "sent"
    else:
        assert event["event"] == "send.message"
        assert event["data"]["key"]["id"] == result.provider_message_id


@pytest.mark.parametrize(
    ("fault", "code", "counter"),
    [
        ({"permanent_numbers": ["5511987654321"]}, 131026, "permanent"),
        ({"template_required_numbers": ["5511987654321"]}, 131047, "template_required"),
        ({"opted_out_numbers": ["5511987654321"]}, 131050, "opted_out"),
        ({"permanent_rate": 1.0}, 131026, "permanent"),
    ],
)
async def test_async_failure_answers_200_then_posts_only_a_failed_status(
    make_client, webhook_receiver, fault, code, counter
):
    config = {"cloud_webhook_url": webhook_receiver.url, **QUIET, "async_failures": True, **fault}
    async with make_client(**config) as client:
        response = await client.post(
            CLOUD_URL, json=cloud_message(biz_opaque_callback_data="msg-9"), headers=CLOUD_AUTH
        )
        await webhook_receiver.wait_for(1)
        counts = await settle(client)
        sends = (await client.get("/_sim/sends")).json()

    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    (failed,) = statuses(webhook_receiver.received)
    assert failed["id"] == wamid
    assert failed["status"] == "failed"
    assert failed["biz_opaque_callback_data"] == "msg-9"
    (error,) = failed["errors"]
    assert error["code"] == code
    assert error["title"] and error["message"]
    assert error["error_data"]["details"]
    assert counts[counter] == 1
    assert counts["async_failures_posted"] == 1
    assert counts["accepted"] == 0
    assert counts["sent_statuses_posted"] == 0
    assert sends == []


async def test_async_permanent_failure_stays_sticky_for_its_message_id(make_client):
    async with make_client(async_failures=True, permanent_rate=1.0) as client:
        headers = {**CLOUD_AUTH, "X-Disparo-Message-Id": "msg-dead"}
        first = await client.post(CLOUD_URL, json=cloud_message(), headers=headers)
        await client.put("/_sim/faults", json={"permanent_rate": 0.0, "async_failures": False})
        retry = await client.post("/v21.0/other/messages", json=cloud_message(), headers=headers)

    assert first.status_code == 200
    assert retry.json()["error"]["code"] == 131026


async def test_async_failures_use_throughput_like_any_taken_call(make_client, clock):
    faults = {"async_failures": True, "permanent_numbers": ["5511900000000"]}
    async with make_client(rate_per_second=1, **faults) as client:
        doomed = await client.post(
            CLOUD_URL, json=cloud_message(to="5511900000000"), headers=CLOUD_AUTH
        )
        next_one = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        by_sender = (await stats(client))["by_sender"]["1234567890"]

    assert doomed.status_code == 200
    assert next_one.json()["error"]["code"] == 130429
    assert by_sender == {"accepted": 0, "max_per_second": 1, "violations": 1}


async def test_spam_and_locked_senders_stay_synchronous_under_async_failures(make_client):
    faults = {"async_failures": True, "spam_senders": ["1234567890"], "locked_senders": ["999"]}
    async with make_client(**faults) as client:
        spam = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        locked = await client.post("/v21.0/999/messages", json=cloud_message(), headers=CLOUD_AUTH)

    assert spam.json()["error"]["code"] == 131048
    assert locked.json()["error"]["code"] == 131031


def test_new_switches_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIM_SENT_STATUS", "false")
    monkeypatch.setenv("SIM_SEND_ECHO", "false")
    monkeypatch.setenv("SIM_RETRY_AFTER_SECONDS", "3")
    monkeypatch.setenv("SIM_ASYNC_FAILURES", "true")
    monkeypatch.setenv("SIM_LOCKED_SENDERS", '["5511900000000"]')

    settings = SimulatorSettings()

    config, faults = settings.simulator_config(), settings.fault_config()
    assert (config.sent_status, config.send_echo, config.retry_after_seconds) == (False, False, 3)
    assert faults.async_failures is True
    assert faults.locked_senders == frozenset({"5511900000000"})


async def test_a_send_held_in_the_providers_queue_is_taken_after_its_caller_gave_up():
    """An overloaded provider (``accept_delay_ms``) takes a request its caller stopped waiting
    for: its chat lists nothing until then, and the send afterwards."""
    provider = SimulatedProvider(SimulatorSettings(**QUIET, accept_delay_ms=(300, 300)))
    request = SendRequest(Dialect.EVOLUTION, "inst-1", "5511987654321", "Oi", "m-1")
    call = asyncio.create_task(provider.submit(request))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(call), timeout=0.1)
    listed_while_queued = provider.log.chat("inst-1", "5511987654321")
    result = await call

    assert listed_while_queued == []
    assert result.verdict is Verdict.ACCEPTED
    [taken] = provider.log.chat("inst-1", "5511987654321")
    assert taken.message_id == "m-1"
