"""The whole system as processes with the console, driven by a real headless Chromium.

Chromium is Debian's ``chromium`` package (Playwright's own browser download cannot work here),
found at ``DISPARO_CHROMIUM`` or on the PATH; without it every browser test fails with a
sentence saying so, never a silent skip. Screenshots of the main pages go to
``DISPARO_CONSOLE_SCREENSHOTS`` when set (``scripts/console-screenshots`` sets it to
``docs/console``).
"""

import asyncio
import json
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from disparo.devstack import ALWAYS_OPEN_WINDOW
from disparo.embedded import free_port
from disparo.processes import ManagedProcess, StackPorts, stack_processes, stop_all
from disparo_console.auth.roles import Role
from disparo_console.auth.users import create_user
from disparo_shared.events import utc_now
from disparo_shared.streams import stream_name
from disparo_shared.testing.fixtures import TEST_API_KEY, with_database

PASSWORD = "senha-do-navegador-1"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    configured = os.environ.get("DISPARO_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@dataclass
class ConsoleStack:
    url: str
    api: httpx.Client  # campaign-api, for arranging data and checking outcomes
    database_url: str
    screenshots: Path | None
    dispatcher: httpx.Client  # for checking what the numbers pages show
    simulator_url: str  # for faults (PUT /_sim/faults)

    def shoot(self, page: Page, name: str) -> None:
        if self.screenshots is not None:
            self.screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="package")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail(
            "no Chromium found for the console's browser tests: install Debian's package "
            "(apt-get install -y chromium) or set DISPARO_CHROMIUM to its executable"
        )
    return path


@asynccontextmanager
async def fresh_database(test_servers, template_database) -> AsyncIterator[str]:
    name = f"disparo_console_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(test_servers.database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
        yield with_database(test_servers.database_url, name)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="package")
async def console_database_url(test_servers, template_database) -> AsyncIterator[str]:
    async with fresh_database(test_servers, template_database) as url:
        yield url


async def _add_users(database_url: str) -> None:
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"search_path": "console"}
    )
    try:
        for username, role in (("ana", Role.ADMIN), ("rui", Role.RECRUITER), ("vera", Role.VIEWER)):
            await create_user(pool, username, username.title(), role, PASSWORD, utc_now())
    finally:
        await pool.close()


async def _delete_streams(nats_url: str, prefix: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(stream_name(prefix, "")):
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@contextmanager
def running_stack(
    test_servers, database_url: str, *, evolution_numbers: int, cloud_numbers: int
) -> Iterator[ConsoleStack]:
    """The services, the simulator and the console as processes over ``database_url``, with the
    console's three users."""
    prefix = f"con{uuid.uuid4().hex[:10]}."
    ports = StackPorts(*(free_port() for _ in range(6)))
    specs = stack_processes(
        ports,
        database_url,
        test_servers.nats_url,
        evolution_numbers=evolution_numbers,
        cloud_numbers=cloud_numbers,
        common_env={
            "DISPARO_NATS_STREAM_PREFIX": prefix,
            "DISPARO_API_KEYS": json.dumps([TEST_API_KEY]),
            "DISPARO_DB_POOL_MAX_SIZE": "4",
            **ALWAYS_OPEN_WINDOW,
        },
        extra_env={
            "dispatcher": {
                "DISPARO_DISPATCHER_PAIR_SPACING_SECONDS": "0",
                "DISPARO_DISPATCHER_METRICS_REFRESH_SECONDS": "1",
            },
            "simulator": {
                "SIM_DELIVERED_AFTER_SECONDS": "0.2",
                "SIM_READ_PROBABILITY": "1.0",
                "SIM_READ_AFTER_SECONDS": "0.2",
                "SIM_REPLY_PROBABILITY": "1.0",
                "SIM_REPLY_AFTER_SECONDS": "0.3",
                "SIM_SEED": "12",
            },
            "console": {"DISPARO_CONSOLE_POLL_SECONDS": "1"},
            # a campaign's own follow-up plan may wait seconds, so a test tries a whole plan
            "campaign-api": {"DISPARO_CAMPAIGN_API_FOLLOWUP_MIN_DELAY_SECONDS": "1"},
        },
        with_console=True,
    )
    asyncio.run(_add_users(database_url))
    lines: dict[str, list[str]] = defaultdict(list)
    processes = [ManagedProcess(spec, lambda n, line: lines[n].append(line)) for spec in specs]
    shots = os.environ.get("DISPARO_CONSOLE_SCREENSHOTS")
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
        key = {"X-API-Key": TEST_API_KEY}
        with (
            httpx.Client(base_url=ports.url("campaign-api"), headers=key, timeout=30) as api,
            httpx.Client(base_url=ports.url("dispatcher"), headers=key, timeout=30) as dispatcher,
        ):
            yield ConsoleStack(ports.url("console"), api, database_url,
                               Path(shots) if shots else None, dispatcher,
                               ports.url("simulator"))  # fmt: skip
    finally:
        stop_all(processes, grace_seconds=10)
        for process in processes:
            print(f"===== {process.name} (exit code {process.returncode}) =====")
            print("\n".join(lines[process.name][-40:]))
        asyncio.run(_delete_streams(test_servers.nats_url, prefix))


@pytest.fixture(scope="package")  # one stack for the browser and the HTTP tests
def console_stack(chromium_path, test_servers, console_database_url) -> Iterator[ConsoleStack]:
    with running_stack(
        test_servers, console_database_url, evolution_numbers=2, cloud_numbers=0
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser(chromium_path, console_stack) -> Iterator[Browser]:
    """Started after the stack: Playwright's sync API keeps an event loop running in this thread
    until it stops, and the stack's async fixtures need the thread's loop free."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def log_in(browser: Browser, stack: ConsoleStack, username: str) -> Page:
    context = browser.new_context(
        base_url=stack.url, locale="pt-BR", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.goto("/entrar")
    page.get_by_label("Usuário").fill(username)
    page.get_by_label("Senha").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url(f"{stack.url}/")
    return page
