"""A key may carry an expiry: from then on it is refused with a 401 that says it expired."""

from datetime import UTC, datetime, timedelta

import pytest
from litestar import get
from litestar.testing import AsyncTestClient
from pydantic import ValidationError

from disparo_shared.api_keys import ApiKeyEntry, hash_api_key
from disparo_shared.http import create_http_app
from disparo_shared.settings import HttpSettings

PEPPER = "p" * 40
NOW = datetime.now(UTC)
KEYS = {"expired": NOW - timedelta(minutes=1), "current": NOW + timedelta(days=30), "open": None}


def _key(name: str) -> str:
    return f"{name}-secret-{'x' * 30}"


@get("/v1/things", sync_to_thread=False)
def list_things() -> list[str]:
    return []


@pytest.fixture
async def client():
    http = HttpSettings(
        api_keys=[
            ApiKeyEntry(
                name=name,
                hash=hash_api_key(PEPPER, _key(name)),
                scopes=["read"],
                expires_at=expires_at,
            )
            for name, expires_at in KEYS.items()
        ],
        api_key_pepper=PEPPER,
    )
    app = create_http_app(
        service_name="test",
        version="test",
        route_handlers=[list_things],
        http=http,
        mode="production",
        readiness_checks=[],
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_an_expired_key_is_refused_saying_so(client):
    refused = await client.get("/v1/things", headers={"X-API-Key": _key("expired")})
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    assert _key("expired") not in refused.text


async def test_a_key_before_its_expiry_or_without_one_is_accepted(client):
    for name in ("current", "open"):
        assert (
            await client.get("/v1/things", headers={"X-API-Key": _key(name)})
        ).status_code == 200


def test_an_expiry_without_an_offset_is_refused():
    with pytest.raises(ValidationError, match="offset"):
        ApiKeyEntry(name="crm", hash="0" * 64, scopes=["read"], expires_at="2027-03-31T00:00")


def test_an_entry_from_settings_reads_its_expiry():
    entry = ApiKeyEntry.model_validate_json(
        '{"name": "crm", "hash": "' + "0" * 64 + '", "scopes": ["read"],'
        ' "expires_at": "2027-03-31T00:00:00Z"}'
    )
    assert entry.expired(datetime(2027, 3, 31, tzinfo=UTC))
    assert not entry.expired(datetime(2027, 3, 30, tzinfo=UTC))
