"""``Idempotency-Key`` for POSTs: the first answer is stored with the work, a retry replays it.

A client that lost the answer to ``POST /v1/messages`` (timeout, crash) sends the request again
with the same key and gets the same ``202 {"message_id": ...}``, and nothing new happens. The
record is written in the transaction that does the work, so a crash keeps neither, and a
concurrent retry waits on the row lock until the first finishes, then replays its answer. The
same key with a different body is refused (422, as the IETF Idempotency-Key draft advises):
it is a client bug, not a retry.

Use from any controller::

    stored = await run_once(pool, scope="POST /v1/campaigns", key=idempotency_key,
                            request_body=data.model_dump(mode="json"),
                            work=lambda conn: create_campaign(conn, data))
    return stored.to_response()

``work`` returns ``(status_code, json_body)`` and may raise a ``Problem`` (nothing is stored).
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from litestar import Response
from litestar.params import HeaderParameter
from pydantic_core import to_jsonable_python

from disparo_shared.problems import Problem
from disparo_shared.queries import load_queries

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_FIELD = f"header.{IDEMPOTENCY_KEY_HEADER}"

Q = load_queries(Path(__file__).parent / "sql" / "idempotency.sql")

IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_KEY_HEADER,
        required=False,
        description=(
            "Unique per request (a UUID); a retry with the same key replays the first answer."
        ),
    ),
]
"""Declare ``idempotency_key: IdempotencyKeyHeader = None`` on a POST handler."""

Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class StoredResponse:
    """The answer of an idempotent operation; ``replayed`` when it comes from a earlier request."""

    status_code: int
    body: Any
    replayed: bool = False

    def to_response(self) -> Response:
        headers = {REPLAYED_HEADER: "true"} if self.replayed else None
        return Response(self.body, status_code=self.status_code, headers=headers)


def fingerprint(request_body: Any) -> str:
    """SHA-256 of the canonical JSON of the request, so key order and spacing do not matter."""
    canonical = json.dumps(to_jsonable_python(request_body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def require_key(key: str | None) -> str:
    """The key of an operation that cannot be retried safely without one (422 when missing)."""
    if key is None:
        raise Problem(
            422,
            "Idempotency-Key required",
            f"{IDEMPOTENCY_KEY_HEADER}: this operation needs a unique key per request"
            " (a UUID is a good choice); send the same key when you retry",
            errors=[{"field": _FIELD, "reason": "required"}],
        )
    return _valid(key)


def check_key(key: str | None) -> str | None:
    """An optional key, validated (see ``_valid``); None when the client sent none."""
    return None if key is None else _valid(key)


def _valid(key: str) -> str:
    """Printable ASCII, 1–255 characters; otherwise a 422 problem naming the header."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise Problem(
            422,
            "Invalid Idempotency-Key",
            f"{IDEMPOTENCY_KEY_HEADER}: 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            errors=[
                {"field": _FIELD, "reason": f"1 to {MAX_KEY_LENGTH} printable ASCII characters"}
            ],
        )
    return key


IN_PROGRESS = "A request with this Idempotency-Key is still in progress."
"""What a route run once per key (``run_once``) answers 409 for, in its OpenAPI."""


def key_reused() -> Problem:
    return Problem(
        422,
        "Idempotency-Key reused with a different request",
        f"{IDEMPOTENCY_KEY_HEADER}: this key was already used with another request body;"
        " use a new key for a new request",
        errors=[{"field": _FIELD, "reason": "already used with a different request body"}],
    )


async def run_once(
    pool: asyncpg.Pool, *, scope: str, key: str | None, request_body: Any, work: Work
) -> StoredResponse:
    """Run ``work`` in one transaction, at most once per ``(scope, key)``; without a key, always."""
    async with pool.acquire() as conn, conn.transaction():
        if key is None:
            status_code, body = await work(conn)
            return StoredResponse(status_code, to_jsonable_python(body))
        body_hash = fingerprint(request_body)
        if not await conn.fetchval(Q.claim_idempotency_key, scope, key, body_hash):
            return await _replay(conn, scope, key, body_hash)
        status_code, body = await work(conn)
        body = to_jsonable_python(body)
        await conn.execute(Q.store_idempotent_response, scope, key, status_code, body)
        return StoredResponse(status_code, body)


async def _replay(conn: asyncpg.Connection, scope: str, key: str, body_hash: str) -> StoredResponse:
    row = await conn.fetchrow(Q.get_idempotency_key, scope, key)
    if row is None or row["status_code"] is None:
        # Only possible if the record was pruned or is written outside run_once; never guess.
        raise Problem(409, "Request in progress", f"{IDEMPOTENCY_KEY_HEADER}: retry shortly")
    if row["fingerprint"] != body_hash:
        raise key_reused()
    return StoredResponse(row["status_code"], row["response"], replayed=True)


async def find_stored(
    pool: asyncpg.Pool, scope: str, key: str
) -> tuple[str, StoredResponse] | None:
    """``(fingerprint, answer)`` stored for the key, for operations that cannot use ``run_once``
    because they commit in several transactions (the streamed contact import)."""
    row = await pool.fetchrow(Q.get_idempotency_key, scope, key)
    if row is None or row["status_code"] is None:
        return None
    return row["fingerprint"], StoredResponse(row["status_code"], row["response"], replayed=True)


async def remember(
    pool: asyncpg.Pool, *, scope: str, key: str, body_hash: str, status_code: int, body: Any
) -> None:
    """Store a finished answer; if a concurrent request stored one first, theirs is kept."""
    await pool.execute(
        Q.remember_idempotent_response, scope, key, body_hash, status_code, to_jsonable_python(body)
    )


async def prune_idempotency_keys(pool: asyncpg.Pool, older_than: datetime) -> int:
    """Forget keys created before ``older_than``; returns how many."""
    result = await pool.execute(Q.prune_idempotency_keys, older_than)
    return int(result.split()[-1])
