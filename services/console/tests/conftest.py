"""Fixtures of the console's tests: the app on a fresh database, users of each role, logins."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient

from disparo_console.app import create_app
from disparo_console.settings import ConsoleSettings
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DatabaseSettings, DeploymentSettings, TelemetrySettings

PASSWORD = "uma-senha-bem-longa-1"
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD):
    token = csrf_of(client.get("/entrar").text)
    return client.post(
        "/entrar",
        data={"_csrf": token, "username": username, "password": password},
        follow_redirects=False,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 4, 13, 0, tzinfo=UTC))


@pytest.fixture
def console_client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    """The console with no service behind it (ports nobody listens on): auth needs none."""
    kernel = KernelSettings(
        database=DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=3),
        telemetry=TelemetrySettings(log_level="WARNING"),
        deployment=DeploymentSettings(env="test"),
    )
    dead = "http://127.0.0.1:9"
    settings = ConsoleSettings(
        secure_cookies=False,
        campaign_api_url=dead,
        reporting_url=dead,
        dispatcher_url=dead,
        followup_url=dead,
        service_timeout_seconds=1,
    )
    with TestClient(create_app(kernel, settings, clock=clock)) as client:
        yield client
