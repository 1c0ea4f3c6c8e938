"""One trace from ``POST /v1/messages`` to the provider's call and the status it posts back.

campaign-api, the dispatcher and reporting run as the real apps (lifespans, pools, brokers,
outbox relays, send loop), each served by uvicorn in this test's event loop, with the real
simulator, which posts its Evolution webhooks to the dispatcher's port. The simulator is wrapped
in OpenTelemetry's ASGI middleware, as a provider that traces would be, so its answer to the
send shows the ``traceparent`` the dispatcher put on the call.

The trace crosses two waits where no ``traceparent`` travels by itself: the dispatcher's queue
(the request's context is kept with the message, see migration 200) and the provider's status
webhook (it arrives in no trace of ours; its status span is put under the message's send).
"""

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import time

import httpx
import uvicorn
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from disparo_campaign_api.app import create_app as create_campaign_api
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_dispatcher.app import create_app as create_dispatcher
from disparo_dispatcher.settings import DispatcherSettings, SenderSeed
from disparo_reporting.app import create_app as create_reporting
from disparo_reporting.settings import ReportingSettings
from disparo_shared.dev_secrets import SIM_EVOLUTION_KEY
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually
from disparo_simulator.app import create_app as create_simulator
from disparo_simulator.settings import SimulatorSettings

AUTH = {"X-API-Key": TEST_API_KEY}
SENDER = "sim-evolution-1"

QUICK_DISPATCHER = dict(
    typing_indicator=False,
    claim_interval_seconds=0.02,
    flush_interval_seconds=0.02,
    # Always open, so the test passes at any hour.
    send_window_start=time(0, 0),
    send_window_end=time(23, 59, 59, 999999),
    send_on_weekdays=[0, 1, 2, 3, 4, 5, 6],
)


def _bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def _served(app, sock: socket.socket) -> AsyncIterator[None]:
    """``app`` served on ``sock`` (lifespan included) until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: _started(server, task), timeout=30)
        yield
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server, task: asyncio.Task) -> bool:
    if task.done():
        task.result()  # a failed start raises here, not as a timeout
    return server.started


def _client_trace() -> SpanContext:
    """A sampled trace of the caller's own (a CRM that traces): the services record its spans."""
    return SpanContext(
        trace_id=random.getrandbits(128),
        span_id=random.getrandbits(64),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


class Trace:
    """The spans of one trace, found by name and checked by parent."""

    def __init__(self, spans: list[ReadableSpan], trace_id: int) -> None:
        self.spans = [s for s in spans if s.context.trace_id == trace_id]
        self.by_id = {s.context.span_id: s for s in self.spans}

    def named(self, name: str, **attributes: object) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans
            if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]

    def consumed(self, subject: str) -> list[ReadableSpan]:
        """FastStream's spans handling ``subject`` (its name carries the test's prefix)."""
        return [
            s
            for s in self.spans
            if s.kind is SpanKind.CONSUMER and s.name.endswith(f".{subject} process")
        ]

    def served(self, method: str, path_start: str) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans
            if s.kind is SpanKind.SERVER and s.name.startswith(f"{method} {path_start}")
        ]

    def ancestry(self, span: ReadableSpan) -> list[int]:
        """The span ids above ``span``, nearest first (the last one may be outside the trace's
        recorded spans: the caller's own)."""
        chain, parent = [], span.parent
        while parent is not None:
            chain.append(parent.span_id)
            above = self.by_id.get(parent.span_id)
            parent = above.parent if above is not None else None
        return chain


def _only(spans: list[ReadableSpan], what: str) -> ReadableSpan:
    assert len(spans) == 1, f"{what}: {[(s.name, s.kind) for s in spans]}"
    return spans[0]


async def test_one_trace_from_the_request_to_the_provider_and_its_status(
    kernel_settings, span_exporter
):
    dispatcher_sock, simulator_sock = _bound_socket(), _bound_socket()
    api_sock, reporting_sock = _bound_socket(), _bound_socket()
    simulator = create_simulator(
        SimulatorSettings(
            evolution_webhook_url=f"{_url(dispatcher_sock)}/webhooks/evolution",
            delivered_after_seconds=0.2,
            read_probability=0.0,
            reply_probability=0.0,
            seed=7,
        )
    )
    sender = SenderSeed(
        sender_id=SENDER,
        provider="evolution",
        address=SENDER,
        base_url=_url(simulator_sock),
        credential_ref=SIM_EVOLUTION_KEY,
    )
    dispatcher = create_dispatcher(
        kernel_settings, DispatcherSettings(senders=[sender], **QUICK_DISPATCHER)
    )
    campaign_api = create_campaign_api(kernel_settings, CampaignApiSettings())
    reporting = create_reporting(kernel_settings, ReportingSettings())

    caller = _client_trace()
    async with (
        _served(OpenTelemetryMiddleware(simulator), simulator_sock),
        _served(dispatcher, dispatcher_sock),
        _served(reporting, reporting_sock),
        _served(campaign_api, api_sock),
        httpx.AsyncClient(headers=AUTH, timeout=30) as http,
    ):
        token = context.attach(trace.set_span_in_context(NonRecordingSpan(caller)))
        try:
            headers = {"Idempotency-Key": "trace-1"}
            propagate.inject(headers)  # the httpx instrumentation, when on, puts its own span
            answer = await http.post(
                f"{_url(api_sock)}/v1/messages",
                json={"phone": "+5511987654321", "body": "Olá, Dra. Ana! Temos um plantão."},
                headers=headers,
            )
        finally:
            context.detach(token)
        assert answer.status_code == 202, answer.text
        message_id = answer.json()["message_id"]

        async def delivered_in_reports() -> bool:
            found = await http.get(f"{_url(reporting_sock)}/v1/messages/{message_id}")
            return found.status_code == 200 and found.json()["state"] in ("delivered", "read")

        await eventually(delivered_in_reports, timeout=30)

        def complete() -> Trace | None:
            spans = Trace(list(span_exporter.get_finished_spans()), caller.trace_id)
            needed = [
                spans.named("dispatcher.status", **{"dispatcher.status": "delivered"}),
                spans.consumed("message.delivered"),
                spans.consumed("message.sent"),
            ]
            return spans if all(needed) else None

        async def trace_complete() -> Trace | None:
            return complete()

        # Reporting's span of an event ends after its answer: wait for it, not for a clock.
        found = await eventually(trace_complete, timeout=30)

    request = _only(found.served("POST", "/v1/messages"), "campaign-api's request span")
    assert caller.span_id in found.ancestry(request)  # under the caller's own span

    # a reply, so urgent: read by the dispatcher and by reporting through their urgent consumers
    requested = found.consumed("messages.requested.urgent")
    assert len(requested) == 2
    for span in requested:
        assert span.parent.span_id == request.context.span_id

    send = _only(
        found.named("dispatcher.send", **{"messaging.message.id": message_id}),
        "the send span",
    )
    # The dispatcher's intake is the one the send descends from (the row kept its context).
    [intake] = [s for s in requested if s.context.span_id == send.parent.span_id]
    assert send.attributes["dispatcher.sender"] == SENDER

    provider = _only(found.served("POST", "/message/sendText/"), "the provider's span of the call")
    assert provider.parent.span_id == send.context.span_id, "the call carried the send's context"

    status = _only(
        found.named("dispatcher.status", **{"dispatcher.status": "delivered"}),
        "the delivered status span",
    )
    assert status.parent.span_id == send.context.span_id, "the status descends from the send"
    assert status.attributes["messaging.message.id"] == message_id
    assert status.links, "the status span links to the webhook request that brought it"
    assert status.links[0].context.trace_id != caller.trace_id  # the webhook's own request

    for span in found.consumed("message.sent"):  # reporting's, and campaign-api's
        assert span.parent.span_id == send.context.span_id
    for span in found.consumed("message.delivered"):
        assert span.parent.span_id == status.context.span_id
    for span in found.consumed("message.enqueued"):
        assert span.parent.span_id == intake.context.span_id

    everything = found.ancestry
    for span in found.spans:  # nothing of the trace hangs from a span outside it
        assert everything(span)[-1] in (caller.span_id, *found.by_id), span.name
