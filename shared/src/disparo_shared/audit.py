"""The audit trail: every state-changing call through the HTTP edge, queryable by an admin.

The edge writes one row for each POST/PUT/PATCH/DELETE it routes (refused ones included: a
401 or 403 is worth knowing about): the key's name, the console user it spoke for (only from a
key with the ``acting-user`` scope), method, path, status, client address and time. A route
that reads or exports one doctor's data names them (``audit_contact``: the contact id, never the
phone), and is then recorded even when it is a GET. Other reads and the provider webhooks (open
paths, thousands a second) are not recorded. Each service keeps its
own trail in its own schema (``audit_log``); ``GET /v1/audit`` on a service shows that
service's trail.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Request, Router, get
from litestar.params import Parameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from disparo_shared.access import SAFE_METHODS, Caller
from disparo_shared.api_keys import ADMIN
from disparo_shared.logging import get_logger
from disparo_shared.problems import invalid
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "audit.sql")
MAX_PAGE = 500
AUDIT_CONTACT = "disparo.audit_contact_id"  # key in the ASGI scope's state

log = get_logger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    key_name: str | None
    acting_user: str | None
    method: str
    path: str
    status: int
    client: str | None
    contact_id: UUID | None = None


def audit_contact(request: Request, contact_id: UUID) -> None:
    """Record in the trail that this call touched ``contact_id``'s data (even a read)."""
    request.scope.setdefault("state", {})[AUDIT_CONTACT] = contact_id


def _audited_contact(scope: Scope) -> UUID | None:
    return scope.get("state", {}).get(AUDIT_CONTACT)


class AuditLog:
    """Where the trail is kept: the service's pool, given lazily (it opens at start-up)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def record(self, entry: AuditEntry) -> None:
        await self._pool().execute(
            SQL.record_audit_entry,
            entry.at,
            entry.key_name,
            entry.acting_user,
            entry.method,
            entry.path,
            entry.status,
            entry.client,
            entry.contact_id,
        )

    async def page(
        self,
        before: int | None,
        key_name: str | None,
        since: datetime | None,
        limit: int,
        contact_id: UUID | None = None,
    ) -> list[dict[str, Any]]:
        rows = await self._pool().fetch(
            SQL.list_audit_entries, before, key_name, since, limit, contact_id
        )
        return [dict(row) for row in rows]


class AuditMiddleware:
    """Outermost ASGI middleware of a route: records a state-changing call, or one that named
    the doctor it read (``audit_contact``), as it answers.

    The row is written when the status is known and before the response starts, so a call
    the client saw answered is already in the trail. A failure to write it is logged (an
    alert-worthy error) and does not change the answer.
    """

    def __init__(self, app: ASGIApp, audit: AuditLog, open_paths: Sequence[str]) -> None:
        self.app = app
        self.audit = audit
        self.open_paths = [re.compile(p) for p in open_paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(p.search(scope["path"]) for p in self.open_paths):
            await self.app(scope, receive, send)
            return
        read = scope["method"] in SAFE_METHODS

        def recorded() -> bool:
            return not read or _audited_contact(scope) is not None

        async def record_then_answer(message: Message) -> None:
            if message["type"] == "http.response.start" and recorded():
                await self._record(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_then_answer)
        except Exception as exc:  # answered by the exception handlers outside this layer
            if recorded():
                await self._record(scope, getattr(exc, "status_code", 500))
            raise

    async def _record(self, scope: Scope, status: int) -> None:
        caller = scope.get("user")
        client = scope.get("client")
        entry = AuditEntry(
            at=datetime.now(UTC),
            key_name=caller.key.name if isinstance(caller, Caller) else None,
            acting_user=caller.acting_user if isinstance(caller, Caller) else None,
            method=scope["method"],
            path=scope["path"],
            status=status,
            client=client[0] if client else None,
            contact_id=_audited_contact(scope),
        )
        try:
            await self.audit.record(entry)
        except Exception:
            log.exception("audit entry not recorded", method=entry.method, path=entry.path)


def _moment(field: str, value: str | None) -> datetime | None:
    """An RFC 3339 date-time with its offset, as the document says; a bare number (which a lax
    parser would read as seconds since 1970) or a time without offset is a 422."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(field, "an RFC 3339 date-time, e.g. 2026-12-04T10:00:00Z") from None
    if moment.tzinfo is None:
        raise invalid(field, "the date-time must name its offset (Z or ±hh:mm)")
    return moment


def audit_router(audit: AuditLog) -> Router:
    @get("/v1/audit", opt={"scope": ADMIN}, summary="The audit trail, newest first")
    async def audit_trail(
        before: Annotated[int | None, Parameter(description="audit_id cursor")] = None,
        key_name: str | None = None,
        since: Annotated[
            str | None,
            Parameter(
                description="Only entries from this moment on (RFC 3339, with its offset)",
                schema_extra={"format": "date-time"},
            ),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 100,
        contact_id: Annotated[
            UUID | None, Parameter(description="Only calls that touched this contact's data")
        ] = None,
    ) -> dict[str, Any]:
        """Who changed what, when and from where; ``next_before`` pages back in time."""
        items = await audit.page(before, key_name, _moment("since", since), limit, contact_id)
        next_before = items[-1]["audit_id"] if len(items) == limit else None
        return {"items": items, "next_before": next_before}

    return Router(path="/", route_handlers=[audit_trail], tags=["audit"])
