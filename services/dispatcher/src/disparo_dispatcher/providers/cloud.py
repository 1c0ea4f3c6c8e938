"""The Meta WhatsApp Cloud API adapter: ``POST {base_url}/{phone_number_id}/messages``.

``base_url`` carries the Graph version (``https://graph.facebook.com/v21.0``; with the simulator
``http://127.0.0.1:8025/v21.0``). The body is Meta's text message with ``preview_url: false``
and ``biz_opaque_callback_data`` set to our message id, which Meta echoes in every status
webhook, so statuses map to our message even before we stored the provider's id. Our message
id also rides in ``X-Disparo-Message-Id`` for the simulator's duplicate count.

Answers: 200 with ``messages[0].id`` → ``Accepted``; otherwise the Graph ``error.code`` is
classified by ``classify.GRAPH_CODES`` (HTTP status when the code is unknown or absent), and a
``Retry-After`` header is honoured when present (Meta rarely sends one; the queue's backoff
covers the rest). Timeouts and connection errors → TRANSIENT; see ``transport`` for why a
timeout may mean the text went out.

The Cloud API has no typing delay on a send, so ``OutgoingText.typing_ms`` is not used here.
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


def _graph_error(body: dict[str, Any]) -> tuple[int | None, str]:
    """The Graph ``error.code`` (None when absent) and the best human text for it."""
    error = body.get("error")
    if not isinstance(error, dict):
        return None, ""
    code = error.get("code")
    try:
        graph_code = int(code) if code is not None else None
    except (TypeError, ValueError):
        graph_code = None
    details = error.get("error_data", {})
    detail = details.get("details") if isinstance(details, dict) else None
    return graph_code, str(detail or error.get("message") or "")


def classify_response(response: ProviderAnswer) -> SendResult:
    """Turn the Cloud API's HTTP answer into ``Accepted`` or a classified ``Rejected``."""
    body = json_or_empty(response)
    status = response.status
    if 200 <= status < 300:
        messages = body.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        provider_id = provider_id_or_none(first.get("id") if isinstance(first, dict) else None)
        if provider_id is not None:
            return Accepted(provider_id)
        return Rejected(
            FailureClass.TRANSIENT,
            "malformed_response",
            f"{status} without messages[0].id: {body_summary(response)}",
        )
    graph_code, detail = _graph_error(body)
    failure, code = classify.classify_graph_error(status, graph_code)
    return Rejected(
        failure,
        code,
        detail or body_summary(response),
        parse_retry_after(response.retry_after),
    )


def template_object(template: dict[str, Any]) -> dict[str, Any]:
    """Meta's ``template`` object: name, language and one body component with the filled
    parameters (``parameter_name`` on a named template's), e.g. ``{"name": "plantao_aviso",
    "language": {"code": "pt_BR"}, "components": [{"type": "body", "parameters":
    [{"type": "text", "text": "Dra. Ana"}]}]}``."""
    parameters = []
    for parameter in template.get("parameters") or []:
        item = {"type": "text", "text": parameter["text"]}
        if parameter.get("name"):
            item["parameter_name"] = parameter["name"]
        parameters.append(item)
    shaped: dict[str, Any] = {"name": template["name"], "language": {"code": template["language"]}}
    if parameters:
        shaped["components"] = [{"type": "body", "parameters": parameters}]
    return shaped


class CloudProvider:
    """Sends texts through Cloud API phone numbers (``SenderAccount.address`` = phone-number id)."""

    name = "cloud"

    def __init__(self, http: ConnectionPool) -> None:
        self._http = http

    async def send_text(self, account: SenderAccount, message: OutgoingText) -> SendResult:
        url = f"{account.base_url.rstrip('/')}/{quote(account.address, safe='')}/messages"
        headers = {
            "Authorization": f"Bearer {account.credential}",
            MESSAGE_ID_HEADER: str(message.message_id),
        }
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": whatsapp_id(message.to),
            "biz_opaque_callback_data": str(message.message_id),
        }
        if message.template is None:
            body["type"] = "text"
            body["text"] = {"body": message.body, "preview_url": False}
        else:
            body["type"] = "template"
            body["template"] = template_object(message.template)
        outcome = await post_json(self._http, url, headers, body)
        if isinstance(outcome, Rejected):
            return outcome
        return classify_response(outcome)
