"""Both adapters against the real simulator over HTTP: each outcome a send can come to."""

import asyncio
import socket
from collections.abc import AsyncIterator
from uuid import uuid4

import aiohttp
import httpx
import pytest
import uvicorn
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider

from disparo_dispatcher.providers.base import (
    Accepted,
    FailureClass,
    OutgoingText,
    Rejected,
    SenderAccount,
)
from disparo_dispatcher.providers.registry import UnknownProvider, get_provider
from disparo_dispatcher.providers.transport import MESSAGE_ID_HEADER, open_session
from disparo_simulator.app import create_app
from disparo_simulator.settings import SimulatorConfig, SimulatorSettings

EVOLUTION_KEY = "sim-evolution-key"
CLOUD_TOKEN = "sim-cloud-token"
DOCTOR = "+5511987654321"
DOCTOR_DIGITS = "5511987654321"
OTHER_DOCTOR = "+5521998765432"


@pytest.fixture(scope="module")
async def simulator_url() -> AsyncIterator[str]:
    """A simulator serving on a free local port for this module's tests."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        # Free text to doctors who never wrote: the window has its own tests.
        create_app(SimulatorSettings(port=port, cloud_require_window=False)),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
async def control(simulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API, reset to defaults before each test."""
    async with httpx.AsyncClient(base_url=simulator_url, timeout=5) as client:
        defaults = SimulatorConfig(cloud_require_window=False).model_dump(mode="json")
        (await client.put("/_sim/config", json=defaults)).raise_for_status()
        (await client.delete("/_sim/faults")).raise_for_status()
        (await client.post("/_sim/reset")).raise_for_status()
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session(4, 5.0) as session:
        yield session


def evolution_account(base_url: str, key: str = EVOLUTION_KEY) -> SenderAccount:
    return SenderAccount("recife-01", "evolution", "recife-01", base_url, key)


def cloud_account(base_url: str, token: str = CLOUD_TOKEN) -> SenderAccount:
    return SenderAccount("sp-01", "cloud", "100200300", f"{base_url}/v21.0", token)


def text(
    to: str = DOCTOR, body: str = "Oi, Dra. Ana! Temos um plantão.", typing_ms: int = 0
) -> OutgoingText:
    return OutgoingText(message_id=uuid4(), to=to, body=body, typing_ms=typing_ms)


async def faults(control: httpx.AsyncClient, **changes: object) -> None:
    (await control.put("/_sim/faults", json=changes)).raise_for_status()


async def configure(control: httpx.AsyncClient, **changes: object) -> None:
    (await control.put("/_sim/config", json=changes)).raise_for_status()


# --- Evolution -------------------------------------------------------------------------------


async def test_evolution_send_is_accepted_with_the_documented_request(control, http, simulator_url):
    message = text(typing_ms=1500)
    result = await get_provider("evolution", http).send_text(
        evolution_account(simulator_url), message
    )

    assert isinstance(result, Accepted)
    [send] = (
        await control.get("/_sim/sends", params={"message_id": str(message.message_id)})
    ).json()
    assert send["provider_message_id"] == result.provider_message_id
    assert send["sender"] == "recife-01"
    assert send["recipient"] == DOCTOR_DIGITS
    assert send["body"] == message.body
    assert send["delay_ms"] == 1500
    assert send["dialect"] == "evolution"


async def test_evolution_number_not_on_whatsapp_is_permanent(control, http, simulator_url):
    await faults(control, permanent_numbers=[DOCTOR_DIGITS])
    result = await get_provider("evolution", http).send_text(
        evolution_account(simulator_url), text()
    )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.PERMANENT, "exists_false")


async def test_evolution_rate_limit_is_transient_with_retry_after(control, http, simulator_url):
    provider = get_provider("evolution", http)
    account = evolution_account(simulator_url)
    assert isinstance(await provider.send_text(account, text()), Accepted)

    result = await provider.send_text(account, text())  # same pair within 6 s

    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "http_429")
    assert result.retry_after_seconds is not None and 1 <= result.retry_after_seconds <= 6


async def test_evolution_wrong_apikey_pauses_the_sender(control, http, simulator_url):
    result = await get_provider("evolution", http).send_text(
        evolution_account(simulator_url, key="revoked"), text()
    )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.PAUSE_SENDER, "http_401")


async def test_evolution_server_error_is_transient(control, http, simulator_url):
    await faults(control, error_5xx_rate=1.0)
    result = await get_provider("evolution", http).send_text(
        evolution_account(simulator_url), text()
    )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "http_500")


async def test_evolution_timeout_is_transient(control, simulator_url):
    await faults(control, latency_ms=[1000, 1000])
    async with open_session(4, 0.2) as impatient:
        result = await get_provider("evolution", impatient).send_text(
            evolution_account(simulator_url), text()
        )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "timeout")


async def test_evolution_read_timeout_waits_for_the_typing_delay(control, simulator_url):
    """Evolution answers only after the typing indicator; that time is not a timeout."""
    await faults(control, latency_ms=[400, 400])
    async with open_session(4, 0.2) as client:
        result = await get_provider("evolution", client).send_text(
            evolution_account(simulator_url), text(typing_ms=1000)
        )
    assert isinstance(result, Accepted)


# --- Cloud API -------------------------------------------------------------------------------


async def test_cloud_send_is_accepted_with_the_documented_request(control, http, simulator_url):
    message = text()
    result = await get_provider("cloud", http).send_text(cloud_account(simulator_url), message)

    assert isinstance(result, Accepted)
    [send] = (
        await control.get("/_sim/sends", params={"message_id": str(message.message_id)})
    ).json()
    assert send["provider_message_id"] == result.provider_message_id
    assert (send["sender"], send["recipient"], send["body"]) == (
        "100200300",
        DOCTOR_DIGITS,
        message.body,
    )
    assert send["dialect"] == "cloud"


@pytest.mark.parametrize(
    ("fault", "failure", "code"),
    [
        ({"permanent_numbers": [DOCTOR_DIGITS]}, FailureClass.PERMANENT, "131026"),
        ({"opted_out_numbers": [DOCTOR_DIGITS]}, FailureClass.OPTED_OUT, "131050"),
        ({"template_required_numbers": [DOCTOR_DIGITS]}, FailureClass.NEEDS_TEMPLATE, "131047"),
        ({"spam_senders": ["100200300"]}, FailureClass.PAUSE_SENDER, "131048"),
        ({"error_5xx_rate": 1.0}, FailureClass.TRANSIENT, "2"),
    ],
)
async def test_cloud_errors_are_classified(control, http, simulator_url, fault, failure, code):
    await faults(control, **fault)
    result = await get_provider("cloud", http).send_text(cloud_account(simulator_url), text())
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (failure, code)
    assert result.detail


async def test_cloud_pair_limit_is_pair_rate_limited(control, http, simulator_url):
    provider = get_provider("cloud", http)
    account = cloud_account(simulator_url)
    assert isinstance(await provider.send_text(account, text()), Accepted)
    result = await provider.send_text(account, text())
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.PAIR_RATE_LIMITED, "131056")


async def test_cloud_throughput_limit_is_transient(control, http, simulator_url):
    await configure(control, rate_per_second=1)
    provider = get_provider("cloud", http)
    account = cloud_account(simulator_url)
    assert isinstance(await provider.send_text(account, text(DOCTOR)), Accepted)
    result = await provider.send_text(account, text(OTHER_DOCTOR))
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "130429")


async def test_cloud_expired_token_pauses_the_sender(control, http, simulator_url):
    result = await get_provider("cloud", http).send_text(
        cloud_account(simulator_url, token="expired"), text()
    )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.PAUSE_SENDER, "190")


async def test_cloud_timeout_is_transient_and_may_have_been_sent(control, simulator_url):
    await faults(control, latency_ms=[1000, 1000])
    message = text()
    async with open_session(4, 0.2) as impatient:
        result = await get_provider("cloud", impatient).send_text(
            cloud_account(simulator_url), message
        )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "timeout")
    # The ambiguity the module docstring warns about: the provider took it all the same.
    sends = (
        await control.get("/_sim/sends", params={"message_id": str(message.message_id)})
    ).json()
    assert len(sends) == 1


async def test_unreachable_provider_is_transient(http):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    result = await get_provider("cloud", http).send_text(
        cloud_account(f"http://127.0.0.1:{closed_port}"), text()
    )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "connect_error")


def test_unknown_provider_is_a_configuration_error(http):
    with pytest.raises(UnknownProvider):
        get_provider("telegram", http)


async def test_waiting_too_long_for_a_pooled_connection_is_a_connect_error(control, simulator_url):
    """Nothing was sent when no connection came free in time, so a retry cannot double-send."""
    await faults(control, latency_ms=[1000, 1000])
    async with open_session(1, 0.3) as one_connection:
        provider = get_provider("cloud", one_connection)
        account = cloud_account(simulator_url)
        first, second = await asyncio.gather(
            provider.send_text(account, text(DOCTOR)),
            provider.send_text(account, text(OTHER_DOCTOR)),
        )
    codes = sorted(r.code for r in (first, second) if isinstance(r, Rejected))
    assert codes == ["connect_error", "timeout"]


async def test_connection_dropped_before_an_answer_is_a_connection_error(http):
    """The request went out and the provider hung up: TRANSIENT, and it may have been sent."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await get_provider("cloud", http).send_text(
            cloud_account(f"http://127.0.0.1:{port}"), text()
        )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.TRANSIENT, "connection_error")


async def test_a_malformed_provider_url_pauses_the_sender(http):
    result = await get_provider("evolution", http).send_text(
        evolution_account("ftp://127.0.0.1:1"), text()
    )
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (FailureClass.PAUSE_SENDER, "invalid_url")


@pytest.fixture
async def header_recorder() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A Cloud API stand-in that accepts every send and keeps the last request's headers."""
    seen: dict[str, str] = {}

    async def record(request: web.Request) -> web.Response:
        seen.clear()
        seen.update(request.headers)
        return web.json_response({"messages": [{"id": "wamid.T"}]})

    app = web.Application()
    app.router.add_post("/v21.0/{phone_number_id}/messages", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


async def test_a_send_carries_the_trace_context_of_its_span(http, header_recorder):
    """The provider call joins the message's trace through the W3C ``traceparent`` header."""
    base_url, seen = header_recorder
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("dispatcher.send") as span:
        result = await get_provider("cloud", http).send_text(cloud_account(base_url), text())
    assert result == Accepted("wamid.T")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert seen["traceparent"].split("-")[1] == trace_id


async def test_a_send_outside_any_span_carries_no_trace_context(http, header_recorder):
    """Without a span (spans not exported) no ``traceparent`` is invented for the provider."""
    base_url, seen = header_recorder
    result = await get_provider("cloud", http).send_text(cloud_account(base_url), text())
    assert result == Accepted("wamid.T")
    assert seen[MESSAGE_ID_HEADER]
    assert "traceparent" not in {name.lower() for name in seen}
