"""The Evolution API adapter: ``POST {base_url}/message/sendText/{instance}`` with an ``apikey``.

Request: ``{"number": "5511987654321", "text": "...", "delay": 1800}`` where ``delay`` is the
typing indicator in ms (Evolution shows "typing…" for that long, then sends, and only then
answers, so the read timeout is stretched by it). Our message id rides in
``X-Disparo-Message-Id``; Evolution ignores it, the simulator counts duplicate sends by it.

Answers (Evolution has no error codes of its own, so codes are made from what it says):

- 201 with ``key.id`` → ``Accepted(key.id)``;
- 400 whose ``response.message`` holds ``{"exists": false}`` → PERMANENT ``exists_false``
  (the number is not on WhatsApp; Evolution also answers this way for recipients who blocked
  marketing, since a WhatsApp Web session cannot tell the difference);
- 429 → TRANSIENT ``http_429`` with the ``Retry-After`` it sends;
- 401, 403 → PAUSE_SENDER: the instance's apikey was revoked or is wrong, so no message can leave
  through this instance; 404 (instance does not exist) likewise. Retrying each message would
  only burn its attempts while the number stays broken;
- 5xx (Evolution answers 500 "Connection Closed" while its WhatsApp session reconnects) →
  TRANSIENT; other 4xx → PERMANENT ``http_4xx``;
- timeouts and connection errors → TRANSIENT (see ``transport`` for the double-send risk of a
  timeout).
"""

from typing import Any
from urllib.parse import quote

from disparo_dispatcher.providers import classify
from disparo_dispatcher.providers.base import (
    Accepted,
    FailureClass,
    OutgoingText,
    Rejected,
    SenderAccount,
    SendResult,
)
from disparo_dispatcher.providers.connections import ConnectionPool
from disparo_dispatcher.providers.retry_after import parse_retry_after
from disparo_dispatcher.providers.transport import (
    MESSAGE_ID_HEADER,
    ProviderAnswer,
    body_summary,
    json_or_empty,
    post_json,
    provider_id_or_none,
)
from disparo_shared.phones import whatsapp_id


def _says_not_on_whatsapp(body: dict[str, Any]) -> bool:
    """Whether an Evolution 400 body reports ``exists: false`` for the number."""
    response = body.get("response")
    messages = response.get("message") if isinstance(response, dict) else None
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list):
        return False
    return any(isinstance(m, dict) and m.get("exists") is False for m in messages)


def classify_response(response: ProviderAnswer) -> SendResult:
    """Turn Evolution's HTTP answer into ``Accepted`` or a classified ``Rejected``."""
    body = json_or_empty(response)
    status = response.status
    if 200 <= status < 300:
        key = body.get("key")
        provider_id = provider_id_or_none(key.get("id") if isinstance(key, dict) else None)
        if provider_id is not None:
            return Accepted(provider_id)
        # Accepted without an id: it was probably sent, but we cannot follow its statuses.
        return Rejected(
            FailureClass.TRANSIENT,
            "malformed_response",
            f"{status} without key.id: {body_summary(response)}",
        )
    if status == 400 and _says_not_on_whatsapp(body):
        return Rejected(FailureClass.PERMANENT, classify.EXISTS_FALSE, "number is not on WhatsApp")
    return Rejected(
        classify.classify_http_status(status),
        f"http_{status}",
        body_summary(response),
        parse_retry_after(response.retry_after),
    )


class EvolutionProvider:
    """Sends texts through Evolution API instances (one instance = one WhatsApp number)."""

    name = "evolution"

    def __init__(self, http: ConnectionPool) -> None:
        self._http = http

    async def send_text(self, account: SenderAccount, message: OutgoingText) -> SendResult:
        url = f"{account.base_url.rstrip('/')}/message/sendText/{quote(account.address, safe='')}"
        headers = {"apikey": account.credential, MESSAGE_ID_HEADER: str(message.message_id)}
        body = {
            "number": whatsapp_id(message.to),
            "text": message.body,
            "delay": max(0, message.typing_ms),
        }
        outcome = await post_json(
            self._http, url, headers, body, extra_read_seconds=max(0, message.typing_ms) / 1000
        )
        if isinstance(outcome, Rejected):
            return outcome
        return classify_response(outcome)
