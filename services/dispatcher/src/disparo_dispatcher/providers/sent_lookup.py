"""Asking a provider what it sent to one chat, so a doubtful send is settled by looking.

Only Evolution can tell: ``POST {base_url}/chat/findMessages/{instance}`` with
``{"where": {"key": {"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": true}},
"page": 1, "offset": 50}`` answers the instance's stored messages of that chat, newest first:
``{"messages": {"total", "pages", "currentPage", "records": [{"key": {"id", "fromMe",
"remoteJid"}, "message": {"conversation": "…"}, "messageTimestamp": 1764800000, …}]}}``
(older Evolution versions answer the bare list). It reads Evolution's own message store, so it
needs the instance to keep what it sends (``DATABASE_SAVE_DATA_NEW_MESSAGE=true``, the
default); a sender whose instance keeps nothing is named in ``senders_without_lookup``.

The Cloud API has no such search: a Cloud send in doubt is settled by its ``sent`` status or,
without one, by the kind's policy (``in_doubt``).

The answer is a ``SentHistory``: the sends found, as ``RecordedEcho`` rows so the echo matching
rule applies unchanged, and from when the page is complete. Only one page is read: 50 messages
to one doctor cover any doubt's window; when the page is full, sends older than its oldest
record are unknown, and absence is proven only after that time.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from disparo_dispatcher.echo_matching import RecordedEcho, body_digest
from disparo_dispatcher.providers.base import Rejected, SenderAccount
from disparo_dispatcher.providers.connections import ConnectionPool
from disparo_dispatcher.providers.transport import json_or_empty, post_json, provider_id_or_none
from disparo_dispatcher.webhooks.evolution import message_body
from disparo_dispatcher.webhooks.parsing import e164_or_none, unix_time
from disparo_shared.phones import whatsapp_id

PAGE_SIZE = 50
EVERYTHING = datetime(1970, 1, 1, tzinfo=UTC)
LOOKUP_PROVIDERS = frozenset({"evolution"})


@dataclass(frozen=True)
class SentHistory:
    """What the provider says it sent to a chat: ``sends``, complete from ``complete_since``
    on (``EVERYTHING`` when the whole chat fit in the page)."""

    sends: list[RecordedEcho]
    complete_since: datetime


def can_look_up(provider: str) -> bool:
    """Whether ``provider``'s API can list what an account sent to a chat."""
    return provider in LOOKUP_PROVIDERS


async def find_sent(http: ConnectionPool, account: SenderAccount, phone: str) -> SentHistory | None:
    """What ``account`` sent to ``phone`` (E.164), or None when the provider did not answer
    usably (down, timed out, an unknown shape): then nothing can be concluded."""
    url = f"{account.base_url.rstrip('/')}/chat/findMessages/{quote(account.address, safe='')}"
    query = {
        "where": {"key": {"remoteJid": f"{whatsapp_id(phone)}@s.whatsapp.net", "fromMe": True}},
        "page": 1,
        "offset": PAGE_SIZE,
    }
    answer = await post_json(http, url, {"apikey": account.credential}, query)
    if isinstance(answer, Rejected) or answer.status != 200:
        return None
    records = _records(json_or_empty(answer), answer.body)
    if records is None:
        return None
    now = datetime.now(UTC)
    sends = [send for send in (_sent(record, account.address, now) for record in records) if send]
    if len(records) < PAGE_SIZE:
        return SentHistory(sends, EVERYTHING)
    oldest = min((send.at for send in sends), default=now)
    return SentHistory(sends, oldest)


def _records(body: dict[str, Any], raw: bytes) -> list[dict[str, Any]] | None:
    """The page's records from a v2 answer (``messages.records``) or a bare list (v1)."""
    messages = body.get("messages")
    if isinstance(messages, dict) and isinstance(messages.get("records"), list):
        return [r for r in messages["records"] if isinstance(r, dict)]
    if raw.lstrip().startswith(b"["):
        listed = orjson.loads(raw)
        return [r for r in listed if isinstance(r, dict)]
    return None


def _sent(record: dict[str, Any], address: str, fallback: datetime) -> RecordedEcho | None:
    key = record.get("key")
    if not isinstance(key, dict) or key.get("fromMe") is not True:
        return None
    provider_message_id = provider_id_or_none(key.get("id"))
    if provider_message_id is None:
        return None
    jid = str(key.get("remoteJid") or "")
    return RecordedEcho(
        provider="evolution",
        provider_message_id=provider_message_id,
        address=address,
        message_id=None,
        recipient=e164_or_none(jid.split("@", 1)[0]),
        body_sha256=body_digest(message_body(record)),
        at=unix_time(record.get("messageTimestamp"), fallback),
    )
