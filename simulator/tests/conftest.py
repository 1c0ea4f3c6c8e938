"""Fixtures for the simulator's tests: a fake clock, the app under a test client, and a real
HTTP server that receives the simulator's webhooks."""

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from disparo_simulator import SimulatorSettings, create_app


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A real HTTP server on a free local port that records every post it receives."""

    url: str
    received: list[ReceivedWebhook] = field(default_factory=list)
    status_code: int = 200

    async def wait_for(self, count: int, timeout: float = 3.0) -> list[ReceivedWebhook]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} webhooks, got {len(self.received)}")
            await asyncio.sleep(0.01)
        return self.received


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(
    clock: FakeClock,
) -> Callable[..., Any]:
    """Build a test client for a simulator with the given settings overrides.

    The 24 h window is off unless a test turns it on: the tests of limits, faults and webhooks
    send free text to doctors who never wrote; the window's own tests (``test_sim_templates``)
    set ``cloud_require_window=True``.
    """

    def build(**overrides: Any) -> AsyncTestClient[Litestar]:
        settings = SimulatorSettings(**{"cloud_require_window": False, **overrides})
        return AsyncTestClient(app=create_app(settings, clock=clock))

    return build


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with make_client() as test_client:
        yield test_client


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """Runs in its own thread and event loop, so it answers even while a test blocks on a call
    into the app (the test client drives the app from a separate loop)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{port}/hook")

    @post("/{path:path}", status_code=200)
    async def record(request: Request, path: FromPath[str]) -> Response[dict[str, bool]]:
        receiver.received.append(ReceivedWebhook(path, dict(request.headers), await request.body()))
        return Response({"ok": True}, status_code=receiver.status_code)

    config = uvicorn.Config(
        Litestar([record]), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield receiver
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()
