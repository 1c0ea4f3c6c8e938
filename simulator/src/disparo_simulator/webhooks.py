"""Posts webhook events to the caller, signed and shaped as each provider does.

Events wait in one queue per dialect, drained by a few worker tasks sharing one
``httpx.AsyncClient``: the send path only enqueues (O(1)), and a slow or dead receiver delays
webhooks without slowing sends. Cloud workers take every event already waiting (up to
``MAX_CLOUD_BATCH``) into one post, as Meta batches statuses under load; Evolution posts one
event per request, as Evolution does. A failed post (connection refused, timeout, non-2xx) is
counted, never raised, and logged once per streak ("failing", then "recovered after N
failures"), so a receiver that is down for a 100,000-message run does not flood the log.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import httpx

from disparo_simulator.dialects import cloud, evolution
from disparo_simulator.events import EchoEvent, StatusEvent, WebhookEvent
from disparo_simulator.outcomes import Dialect
from disparo_simulator.settings import SimulatorConfig

logger = logging.getLogger(__name__)

POST_TIMEOUT_SECONDS = 5.0
MAX_CLOUD_BATCH = 100
WORKERS_PER_DIALECT = 3
"""httpx slows down as more tasks share one pool; a few busy workers post fastest."""


class WebhookPoster:
    """Queues webhook events and posts them to the dialect's configured URL."""

    def __init__(self, config: Callable[[], SimulatorConfig]) -> None:
        self._config = config
        self._client: httpx.AsyncClient | None = None
        self._queues: dict[Dialect, asyncio.Queue[WebhookEvent]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self.posted = 0
        self.failures = 0
        self.sent_statuses_posted = 0
        self.echoes_posted = 0
        self.async_failures_posted = 0
        self._failing_streaks: dict[str, int] = {}

    @property
    def backlog(self) -> int:
        """Events waiting for a worker."""
        return sum(queue.qsize() for queue in self._queues.values())

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=POST_TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=2 * WORKERS_PER_DIALECT),
        )
        self._queues = {dialect: asyncio.Queue() for dialect in Dialect}
        self._workers = [
            asyncio.create_task(self._work(dialect))
            for dialect in Dialect
            for _ in range(WORKERS_PER_DIALECT)
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reset(self) -> None:
        """Drop queued events and zero the counters."""
        for queue in self._queues.values():
            while not queue.empty():
                queue.get_nowait()
        self.posted = 0
        self.failures = 0
        self.sent_statuses_posted = 0
        self.echoes_posted = 0
        self.async_failures_posted = 0

    def url_for(self, dialect: Dialect) -> str | None:
        config = self._config()
        url = config.cloud_webhook_url if dialect is Dialect.CLOUD else config.evolution_webhook_url
        return None if url is None else str(url)

    def enqueue(self, event: WebhookEvent) -> None:
        """Post ``event`` as soon as a worker is free; then run ``event.then``."""
        self._queues[event.dialect].put_nowait(event)

    async def post_change(
        self, waba_id: str, field: str, value: dict[str, object], at: float
    ) -> bool:
        """Post one Cloud account-level change (``field`` and its ``value``: a template status,
        a number's quality or tier, an account update) in Meta's envelope, signed; return whether
        the receiver took it. No Cloud URL configured: skipped, False."""
        url = self.url_for(Dialect.CLOUD)
        if url is None or self._client is None:
            return False
        payload = cloud.change_body(waba_id, field, value, at)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = cloud.webhook_headers(self._config().cloud_app_secret, body)
        headers["Content-Type"] = "application/json"
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self._failed(url, 1, repr(error))
            return False
        if not response.is_success:
            self._failed(url, 1, f"HTTP {response.status_code}")
            return False
        self._succeeded(url, 1)
        return True

    async def post(self, dialect: Dialect, events: list[WebhookEvent]) -> bool:
        """Post ``events`` in one request now; return whether the receiver took them (2xx).

        The body is serialised once, compact and ASCII-escaped as Meta does, and the Cloud
        signature is computed over exactly those bytes. No URL configured: skipped, False.
        """
        url = self.url_for(dialect)
        if url is None or self._client is None:
            return False
        config = self._config()
        if dialect is Dialect.CLOUD:
            payload = cloud.webhook_body(config.cloud_waba_id, events)
        else:
            (event,) = events
            payload = evolution.webhook_body(event, config.evolution_api_key)
        body = json.dumps(payload, separators=(",", ":")).encode()
        if dialect is Dialect.CLOUD:
            headers = cloud.webhook_headers(config.cloud_app_secret, body)
        else:
            headers = evolution.webhook_headers(config.evolution_api_key)
        headers["Content-Type"] = "application/json"
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self._failed(url, len(events), repr(error))
            return False
        if not response.is_success:
            self._failed(url, len(events), f"HTTP {response.status_code}")
            return False
        self._succeeded(url, len(events))
        self._count_kinds(events)
        return True

    async def _work(self, dialect: Dialect) -> None:
        queue = self._queues[dialect]
        batch_size = MAX_CLOUD_BATCH if dialect is Dialect.CLOUD else 1
        while True:
            batch = [await queue.get()]
            while len(batch) < batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self.post(dialect, batch)
                for event in batch:
                    if event.then is not None:
                        event.then()
            except Exception:
                # A bug here must not silently stop all webhooks: log it and keep the worker.
                logger.exception("webhook worker for %s failed on a batch", dialect.value)
                self.failures += len(batch)

    def _count_kinds(self, events: list[WebhookEvent]) -> None:
        """Count the posted events a caller relies on to learn a send's fate."""
        for event in events:
            if isinstance(event, EchoEvent):
                self.echoes_posted += 1
            elif isinstance(event, StatusEvent):
                if event.status == "sent":
                    self.sent_statuses_posted += 1
                elif event.status == "failed":
                    self.async_failures_posted += 1

    def _failed(self, url: str, events: int, reason: str) -> None:
        self.failures += events
        streak = self._failing_streaks.get(url, 0) + 1
        self._failing_streaks[url] = streak
        if streak == 1:
            logger.warning("webhook posts to %s failing: %s", url, reason)

    def _succeeded(self, url: str, events: int) -> None:
        self.posted += events
        streak = self._failing_streaks.pop(url, 0)
        if streak:
            logger.info("webhook posts to %s recovered after %d failed posts", url, streak)
