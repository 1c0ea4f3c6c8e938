"""Every route needs a scope: declared by the route (or its router), else a default by method.

The audit trail records every state-changing call: key name, acting user (only from a key
trusted to speak for one), method, path, status, client address and time; admins query it.
"""

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest
from litestar import Request, Router, delete, get, post
from litestar.testing import AsyncTestClient

from disparo_shared.access import DEFAULT_SCOPE_BY_METHOD, required_scope
from disparo_shared.api_keys import ApiKeyEntry, hash_api_key
from disparo_shared.audit import AuditLog, audit_contact
from disparo_shared.http import create_http_app
from disparo_shared.settings import HttpSettings

PEPPER = "p" * 40
KEYS = {
    "sender": ["messages:send"],
    "reader": ["reports:read"],
    "ops": ["admin"],
    "console": ["reports:read", "acting-user"],
}


def _key(name: str) -> str:
    return f"{name}-secret-{'x' * 30}"


@get("/v1/things", sync_to_thread=False)
def list_things() -> list[str]:
    return []


@post("/v1/things", sync_to_thread=False, opt={"scope": "messages:send"})
def make_thing() -> dict[str, str]:
    return {"made": "yes"}


@delete("/v1/things/{name:str}", sync_to_thread=False)
def drop_thing(name: str) -> None:
    return None


@get("/daily", sync_to_thread=False)
def daily() -> dict[str, int]:
    return {"sent": 1}


@post("/rebuild", sync_to_thread=False, opt={"scope": "admin"})
def rebuild() -> dict[str, int]:
    return {"rebuilt": 1}


@get("/v1/people/{contact_id:uuid}/export", sync_to_thread=False)
def export_person(request: Request, contact_id: UUID) -> dict[str, str]:
    audit_contact(request, contact_id)
    return {"phone": "+5511987654321"}


@post("/v1/people/export", sync_to_thread=False, status_code=200, opt={"scope": "admin"})
def export_person_by_body(request: Request, data: dict[str, str]) -> dict[str, str]:
    audit_contact(request, UUID(data["contact_id"]))
    return {"phone": data["phone"]}


reports = Router("/v1/reports", route_handlers=[daily, rebuild], opt={"resource": "reports"})


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    from disparo_shared.db import create_pool
    from disparo_shared.settings import DatabaseSettings

    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), "dispatcher")
    yield pool
    await pool.close()


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[AsyncTestClient]:
    from disparo_shared.db import create_pool
    from disparo_shared.settings import DatabaseSettings

    pools: list[asyncpg.Pool] = []

    async def open_pool() -> None:
        pools.append(
            await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), "dispatcher")
        )

    async def close_pool() -> None:
        await pools[0].close()

    http = HttpSettings(
        api_keys=[
            ApiKeyEntry(name=name, hash=hash_api_key(PEPPER, _key(name)), scopes=scopes)
            for name, scopes in KEYS.items()
        ],
        api_key_pepper=PEPPER,
    )
    app = create_http_app(
        service_name="test",
        version="test",
        route_handlers=[
            list_things,
            make_thing,
            drop_thing,
            reports,
            export_person,
            export_person_by_body,
        ],
        http=http,
        mode="production",
        readiness_checks=[],
        audit=AuditLog(lambda: pools[0]),
        on_startup=[open_pool],
        on_shutdown=[close_pool],
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


def as_key(name: str) -> dict[str, str]:
    return {"X-API-Key": _key(name)}


def test_defaults_by_method_are_least_privilege():
    assert DEFAULT_SCOPE_BY_METHOD["GET"] == "read"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert DEFAULT_SCOPE_BY_METHOD[method] == "admin"


def test_a_route_or_its_router_declares_its_scope():
    assert required_scope(make_thing, "POST") == "messages:send"
    assert required_scope(list_things, "GET") == "read"
    assert required_scope(drop_thing, "DELETE") == "admin"


async def test_a_key_reaches_only_the_routes_its_scopes_allow(client):
    assert (await client.post("/v1/things", headers=as_key("sender"))).status_code == 201
    denied = await client.get("/v1/things", headers=as_key("sender"))
    assert denied.status_code == 403
    assert "read" in denied.json()["detail"]
    assert (await client.get("/v1/reports/daily", headers=as_key("reader"))).status_code == 200
    assert (await client.post("/v1/reports/rebuild", headers=as_key("reader"))).status_code == 403
    assert (await client.post("/v1/reports/rebuild", headers=as_key("ops"))).status_code == 201
    assert (await client.delete("/v1/things/a", headers=as_key("reader"))).status_code == 403
    assert (await client.delete("/v1/things/a", headers=as_key("ops"))).status_code == 204
    assert (await client.get("/v1/things", headers={"X-API-Key": "nope"})).status_code == 401
    assert (await client.get("/health")).status_code == 200


async def test_every_state_changing_call_is_in_the_audit_trail(client):
    await client.post(
        "/v1/things", headers={**as_key("sender"), "X-Acting-User": "mallory@example.com"}
    )
    await client.post(
        "/v1/reports/rebuild", headers={**as_key("console"), "X-Acting-User": "ana@example.com"}
    )
    await client.get("/v1/reports/daily", headers=as_key("reader"))  # a read is not recorded
    assert (await client.get("/v1/audit", headers=as_key("reader"))).status_code == 403
    trail = (await client.get("/v1/audit", headers=as_key("ops"))).json()["items"]
    assert [
        (e["key_name"], e["acting_user"], e["method"], e["path"], e["status"]) for e in trail
    ] == [
        ("console", "ana@example.com", "POST", "/v1/reports/rebuild", 403),
        ("sender", None, "POST", "/v1/things", 201),
    ]
    assert all(e["client"] and e["at"] for e in trail)
    only_sender = (
        await client.get("/v1/audit", params={"key_name": "sender"}, headers=as_key("ops"))
    ).json()["items"]
    assert [e["key_name"] for e in only_sender] == ["sender"]


async def test_a_refused_key_is_recorded_too(client):
    await client.post("/v1/things", headers={"X-API-Key": "guess"})
    trail = (await client.get("/v1/audit", headers=as_key("ops"))).json()["items"]
    assert [(e["key_name"], e["status"]) for e in trail] == [(None, 401)]


async def test_the_audit_trail_reads_since_as_an_rfc3339_moment(client):
    await client.post("/v1/things", headers=as_key("sender"))
    audit = "/v1/audit"
    ops = as_key("ops")
    found = await client.get(audit, params={"since": "2020-01-01T00:00:00Z"}, headers=ops)
    assert [e["path"] for e in found.json()["items"]] == ["/v1/things"]
    later = await client.get(audit, params={"since": "2999-01-01T00:00:00-03:00"}, headers=ops)
    assert later.json()["items"] == []
    for wrong in ("0.5", "yesterday", "2020-01-01T00:00:00"):  # a number, a word, no offset
        refused = await client.get(audit, params={"since": wrong}, headers=ops)
        assert refused.status_code == 422, wrong
        assert refused.json()["errors"][0]["field"] == "since"


async def test_an_export_is_in_the_trail_with_the_contact_id_and_never_the_phone(client):
    person, other = uuid4(), uuid4()
    read = await client.get(f"/v1/people/{person}/export", headers=as_key("ops"))
    assert read.status_code == 200  # a read, audited because it named whose data it gave
    await client.post(
        "/v1/people/export",
        json={"contact_id": str(other), "phone": "+5511987650000"},
        headers=as_key("ops"),
    )
    await client.get("/v1/things", headers=as_key("ops"))  # an ordinary read is not
    trail = (await client.get("/v1/audit", headers=as_key("ops"))).json()["items"]
    assert [(e["method"], e["contact_id"], e["status"]) for e in trail] == [
        ("POST", str(other), 200),
        ("GET", str(person), 200),
    ]
    assert "5511987650000" not in str(trail)
    only_person = await client.get(
        "/v1/audit", params={"contact_id": str(person)}, headers=as_key("ops")
    )
    assert [e["path"] for e in only_person.json()["items"]] == [f"/v1/people/{person}/export"]
