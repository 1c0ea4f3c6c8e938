"""The template registry of each Cloud account, and the windows and holds that depend on it.

The registry is what the provider lists at ``GET /{waba_id}/message_templates`` (``sync``, on
demand over HTTP), kept current by ``message_template_status_update`` webhooks and by sends the
provider refused for a stopped template (132015/132016). Campaign-api asks it over HTTP whether a
campaign's template exists, is approved and takes the parameters the campaign maps.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from disparo_dispatcher.cloud_rules import HOLD_REASONS, TEMPLATE_DISABLED, TEMPLATE_PAUSED
from disparo_dispatcher.senders import resolve_credential
from disparo_shared.events import Event, MessageFailed
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "templates.sql")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
STOP_STATUS = {"132015": "PAUSED", "132016": "DISABLED"}
PAGE_LIMIT = 100
MAX_PAGES = 100


@dataclass(frozen=True)
class ListedTemplate:
    name: str
    language: str
    template_id: str | None
    category: str
    status: str
    body: str
    parameter_format: str
    parameters: list[str]


def parse_listed(item: dict[str, Any]) -> ListedTemplate | None:
    """One entry of Meta's ``data`` list; its BODY component's text gives the placeholders."""
    name, language = item.get("name"), item.get("language")
    if not isinstance(name, str) or not isinstance(language, str):
        return None
    body = ""
    for component in item.get("components") or []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
            body = str(component.get("text") or "")
    parameters: list[str] = []
    for found in PLACEHOLDER.findall(body):
        if found not in parameters:
            parameters.append(found)
    named = any(not p.isdigit() for p in parameters)
    return ListedTemplate(
        name=name,
        language=language,
        template_id=str(item["id"]) if item.get("id") is not None else None,
        category=str(item.get("category") or "UNKNOWN"),
        status=str(item.get("status") or "UNKNOWN"),
        body=body,
        parameter_format=str(item.get("parameter_format") or ("NAMED" if named else "POSITIONAL")),
        parameters=parameters,
    )


async def fetch_account_templates(
    http: aiohttp.ClientSession, base_url: str, waba_id: str, token: str
) -> list[ListedTemplate]:
    """Every template of ``waba_id``, following Meta's ``paging.next`` links.

    Raises ``aiohttp.ClientError`` or ``ValueError`` (a non-2xx answer) for the caller to report.
    """
    url: str | None = f"{base_url.rstrip('/')}/{waba_id}/message_templates?limit={PAGE_LIMIT}"
    headers = {"Authorization": f"Bearer {token}"}
    listed: list[ListedTemplate] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        async with http.get(url, headers=headers) as response:
            body = await response.json(content_type=None)
            if response.status >= 300:
                error = body.get("error", {}) if isinstance(body, dict) else {}
                raise ValueError(f"HTTP {response.status}: {error.get('message') or body}")
        listed += [t for t in map(parse_listed, body.get("data") or []) if t is not None]
        url = (body.get("paging") or {}).get("next")
    return listed


async def sync_accounts(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, now: datetime, waba_id: str | None = None
) -> dict[str, int]:
    """Fetch and store the templates of every Cloud account (or one); returns counts by account."""
    async with pool.acquire() as conn:
        accounts = await conn.fetch(SQL.cloud_accounts, waba_id)
    synced: dict[str, int] = {}
    for account in accounts:
        token = resolve_credential(account["credential_ref"])
        listed = await fetch_account_templates(http, account["base_url"], account["waba_id"], token)
        async with pool.acquire() as conn:
            await store(conn, account["waba_id"], listed, now)
        synced[account["waba_id"]] = len(listed)
    return synced


async def store(
    conn: asyncpg.Connection, waba_id: str, listed: list[ListedTemplate], now: datetime
) -> None:
    if not listed:
        return
    await conn.execute(
        SQL.upsert_templates,
        waba_id,
        [t.name for t in listed],
        [t.language for t in listed],
        [t.template_id for t in listed],
        [t.category for t in listed],
        [t.status for t in listed],
        [t.body for t in listed],
        now,
        [t.parameter_format for t in listed],
        [",".join(t.parameters) for t in listed],
    )


async def list_templates(conn: asyncpg.Connection, waba_id: str | None) -> list[dict[str, Any]]:
    return [dict(row) for row in await conn.fetch(SQL.list_templates, waba_id)]


async def set_status(
    conn: asyncpg.Connection,
    waba_id: str,
    name: str,
    language: str,
    status: str,
    now: datetime,
    *,
    template_id: str | None = None,
    category: str | None = None,
    reason: str | None = None,
) -> list[UUID]:
    """Record a template's new status; an APPROVED one releases what waited for it."""
    await conn.execute(
        SQL.set_template_status, waba_id, name, language, template_id, category, status, reason, now
    )
    if status != "APPROVED":
        return []
    rows = await conn.fetch(SQL.release_template_sends, waba_id, name, language, now)
    return [row["message_id"] for row in rows]


async def open_windows(
    conn: asyncpg.Connection, written: Iterable[tuple[str, str, datetime]], now: datetime
) -> int:
    """Doctors wrote: open their windows and put back in line what waited for a template."""
    latest: dict[tuple[str, str], datetime] = {}
    for sender_id, phone, at in written:
        key = (sender_id, phone)
        latest[key] = max(at, latest.get(key, at))
    if not latest:
        return 0
    keys = sorted(latest)
    await conn.execute(
        SQL.open_windows, [k[0] for k in keys], [k[1] for k in keys], [latest[k] for k in keys]
    )
    released = await conn.fetch(SQL.release_needs_template, sorted({k[1] for k in keys}), now)
    return len(released)


async def close_windows(conn: asyncpg.Connection, closed: Iterable[tuple[str, str]]) -> None:
    keys = sorted(closed)
    await conn.execute(SQL.close_windows, [k[0] for k in keys], [k[1] for k in keys])


async def stop_templates(
    conn: asyncpg.Connection,
    stopped: dict[tuple[str, UUID | None, str, str], str],
    now: datetime,
) -> list[Event]:
    """The provider refused a send because its template is paused or disabled: record that in
    the registry and hold the campaign's other queued sends through it, each with the reason."""
    events: list[Event] = []
    for (sender_id, campaign_id, name, language), code in sorted(
        stopped.items(), key=lambda item: (item[0][0], str(item[0][1]), item[0][2], item[0][3])
    ):
        status = STOP_STATUS.get(code, "PAUSED")
        waba_id = await conn.fetchval(SQL.waba_of_sender, sender_id)
        if waba_id is not None:
            await conn.execute(
                SQL.set_template_status, waba_id, name, language, None, None, status, code, now
            )
        if campaign_id is None:
            continue
        reason = TEMPLATE_DISABLED if status == "DISABLED" else TEMPLATE_PAUSED
        held = await conn.fetch(
            SQL.hold_template_sends, campaign_id, name, language, reason, HOLD_REASONS[reason]
        )
        events += [
            MessageFailed(
                message_id=row["message_id"],
                campaign_id=row["campaign_id"],
                attempt=row["attempt"],
                error_code=reason,
                error=HOLD_REASONS[reason],
                retryable=True,
                next_attempt_at=None,
                final=False,
            )
            for row in held
        ]
    return events


def template_json(row: dict[str, Any]) -> dict[str, Any]:
    """A registry row as the HTTP API shows it."""
    return json.loads(json.dumps(row, default=str))
