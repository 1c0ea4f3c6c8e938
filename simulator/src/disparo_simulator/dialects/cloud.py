"""The Meta WhatsApp Cloud API dialect: ``POST /{version}/{phone_number_id}/messages``.

Errors use the Graph shape ``{"error": {"message", "type", "code", "error_data", "fbtrace_id"}}``.
Meta answers most errors with HTTP 400; the simulator does too, except the two rate limits
(130429 throughput, 131056 pair) which it answers with HTTP 429 so that any HTTP client sees them
as "slow down", and injected faults (code 2) answered with 500, or 504 after a held timeout.
Like Meta, it sends no ``Retry-After`` unless ``retry_after_seconds`` is configured: by default
the caller's own backoff has to cope.

The same refusals, minus the HTTP status, describe a ``failed`` status webhook's ``errors[]``
when a send is taken and fails later (``async_failures``).
"""

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from disparo_simulator.dialects import HttpAnswer
from disparo_simulator.events import EchoEvent, InboundEvent, StatusEvent, WebhookEvent
from disparo_simulator.ids import IdFactory
from disparo_simulator.outcomes import Dialect, SendRequest, SendResult, Verdict
from disparo_simulator.phones import wa_id
from disparo_simulator.templates import TemplateParameter, TemplateSend

if TYPE_CHECKING:
    from disparo_simulator.templates import Template

SUPPORTED_TYPES = ("text", "template")
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


class Refusal(NamedTuple):
    """How the Cloud API refuses a send: HTTP status, Graph code, message, details, and the short
    title a ``failed`` status webhook gives the same error."""

    http_status: int
    code: int
    message: str
    details: str
    title: str


_REFUSALS: dict[Verdict, Refusal] = {
    Verdict.THROTTLED: Refusal(
        http_status=429,
        code=130429,
        message="(#130429) Rate limit hit",
        details="Cloud API message throughput has been reached.",
        title="Rate limit hit",
    ),
    Verdict.PAIR_LIMITED: Refusal(
        http_status=429,
        code=131056,
        message="(#131056) (Business Account, Consumer Account) pair rate limit hit",
        details=(
            "Too many messages sent from the sender phone number to the same recipient phone "
            "number in a short period of time."
        ),
        title="(Business Account, Consumer Account) pair rate limit hit",
    ),
    Verdict.PERMANENT: Refusal(
        http_status=400,
        code=131026,
        message="(#131026) Message Undeliverable.",
        details="Message Undeliverable.",
        title="Message undeliverable",
    ),
    Verdict.TEMPLATE_REQUIRED: Refusal(
        http_status=400,
        code=131047,
        message="(#131047) Re-engagement message",
        details=(
            "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number."
        ),
        title="Re-engagement message",
    ),
    Verdict.SPAM_LIMITED: Refusal(
        http_status=400,
        code=131048,
        message="(#131048) Spam rate limit hit",
        details=(
            "Message failed to send because there are restrictions on how many messages can be "
            "sent from this phone number."
        ),
        title="Spam rate limit hit",
    ),
    Verdict.SENDER_LOCKED: Refusal(
        http_status=400,
        code=131031,
        message="(#131031) Account has been locked",
        details=(
            "The WhatsApp Business Account is restricted or disabled for violating a platform "
            "policy."
        ),
        title="Account has been locked",
    ),
    Verdict.OPTED_OUT: Refusal(
        http_status=400,
        code=131050,
        message="(#131050) Unable to deliver the message",
        details=(
            "This recipient has chosen to stop receiving marketing messages on WhatsApp from "
            "your business."
        ),
        title="Unable to deliver the message",
    ),
    Verdict.MARKETING_LIMITED: Refusal(
        http_status=400,
        code=131049,
        message=(
            "(#131049) This message was not delivered to maintain healthy ecosystem engagement."
        ),
        details=(
            "In order to maintain a healthy ecosystem engagement, the message failed to be "
            "delivered."
        ),
        title="This message was not delivered to maintain healthy ecosystem engagement.",
    ),
    Verdict.TEMPLATE_PARAM_COUNT: Refusal(
        http_status=400,
        code=132000,
        message="(#132000) Number of parameters does not match the expected number of params",
        details=(
            "The number of variable parameter values included in the request did not match the "
            "number of variable parameters defined in the template."
        ),
        title="Number of parameters does not match the expected number of params",
    ),
    Verdict.TEMPLATE_MISSING: Refusal(
        http_status=400,
        code=132001,
        message="(#132001) Template name does not exist in the translation",
        details=(
            "The template does not exist in the specified language or the template has not "
            "been approved."
        ),
        title="Template name does not exist in the translation",
    ),
    Verdict.TEMPLATE_TOO_LONG: Refusal(
        http_status=400,
        code=132005,
        message="(#132005) Translated text too long",
        details="Translated text is too long.",
        title="Translated text too long",
    ),
    Verdict.TEMPLATE_PARAM_FORMAT: Refusal(
        http_status=400,
        code=132012,
        message="(#132012) Parameter format does not match format in the created template",
        details="Variable parameter values formatted incorrectly.",
        title="Parameter format does not match format in the created template",
    ),
    Verdict.TEMPLATE_PAUSED: Refusal(
        http_status=400,
        code=132015,
        message="(#132015) Template is Paused",
        details="Template is paused due to low quality so it cannot be sent in a template message.",
        title="Template is Paused",
    ),
    Verdict.TEMPLATE_DISABLED: Refusal(
        http_status=400,
        code=132016,
        message="(#132016) Template is Disabled",
        details=(
            "Template has been paused too many times due to low quality and is now permanently "
            "disabled."
        ),
        title="Template is Disabled",
    ),
    Verdict.SERVER_ERROR: Refusal(
        http_status=500,
        code=2,
        message="(#2) Service temporarily unavailable",
        details="Service temporarily unavailable",
        title="Service temporarily unavailable",
    ),
    Verdict.TIMEOUT: Refusal(
        http_status=504,
        code=2,
        message="(#2) Service temporarily unavailable",
        details="The request timed out.",
        title="Service temporarily unavailable",
    ),
}


class _Text(msgspec.Struct):
    body: str
    preview_url: bool = False


class _Language(msgspec.Struct):
    code: str
    policy: str = "deterministic"


class _Parameter(msgspec.Struct):
    type: str
    text: str | None = None
    parameter_name: str | None = None


class _Component(msgspec.Struct):
    type: str
    parameters: list[_Parameter] = []


class _Template(msgspec.Struct):
    name: str
    language: _Language
    components: list[_Component] = []

    def as_send(self) -> TemplateSend:
        """The body parameters (header and button components are not simulated)."""
        parameters = tuple(
            TemplateParameter(p.type, p.text, p.parameter_name)
            for component in self.components
            if component.type.lower() == "body"
            for p in component.parameters
        )
        return TemplateSend(self.name, self.language.code, parameters)


class MessageBody(msgspec.Struct):
    """The fields of a Cloud API send the simulator reads; others are ignored."""

    messaging_product: str | None = None
    to: str | None = None
    type: str = "text"
    recipient_type: str = "individual"
    text: _Text | None = None
    template: _Template | None = None
    biz_opaque_callback_data: str | None = None


def parse_message(
    phone_number_id: str, raw_body: bytes, message_id: str | None, ids: IdFactory
) -> SendRequest | HttpAnswer:
    """The request as a ``SendRequest``, or the Graph error 100 Meta gives for a malformed one.

    The caller's message id is the ``X-Disparo-Message-Id`` header when present, else
    ``biz_opaque_callback_data``.
    """
    try:
        body = msgspec.json.decode(raw_body, type=MessageBody)
    except msgspec.DecodeError as error:
        return invalid_parameter(f"(#100) Invalid parameter: {error}", ids)
    if body.messaging_product != "whatsapp":
        return invalid_parameter("(#100) The parameter messaging_product is required.", ids)
    if body.to is None:
        return invalid_parameter("(#100) The parameter to is required.", ids)
    recipient = wa_id(body.to)
    if recipient is None:
        return invalid_parameter("(#100) Invalid parameter: to is not a phone number.", ids)
    template = None
    if body.type == "text" and body.text is not None:
        text = body.text.body
    elif body.type == "template" and body.template is not None:
        template = body.template.as_send()
        text = f"template:{template.name}"  # replaced by the filled body once checked
    elif body.type not in SUPPORTED_TYPES:
        return invalid_parameter(
            f"(#100) Param type must be one of {list(SUPPORTED_TYPES)} in this simulator.", ids
        )
    else:
        return invalid_parameter(f"(#100) The parameter {body.type} is required.", ids)
    return SendRequest(
        dialect=Dialect.CLOUD,
        sender=phone_number_id,
        recipient=recipient,
        body=text,
        message_id=message_id or body.biz_opaque_callback_data,
        callback_data=body.biz_opaque_callback_data,
        is_template=template is not None,
        template=template,
    )


def answer(
    request: SendRequest,
    result: SendResult,
    ids: IdFactory,
    retry_after_seconds: int | None = None,
) -> HttpAnswer:
    """Render the simulator's verdict as the Cloud API would answer it.

    With ``retry_after_seconds`` (the config's, unset like Meta), the two rate limits carry
    ``Retry-After``: that many seconds, or the time until the send can pass if that is longer,
    so a caller that obeys it is never refused again for the same reason.
    """
    if result.verdict is Verdict.ACCEPTED:
        return HttpAnswer(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": request.recipient, "wa_id": request.recipient}],
                "messages": [{"id": result.provider_message_id}],
            },
        )
    refusal = _REFUSALS[result.verdict]
    error = graph_error(refusal.http_status, refusal.code, refusal.message, refusal.details, ids)
    if retry_after_seconds is not None and result.verdict in (
        Verdict.THROTTLED,
        Verdict.PAIR_LIMITED,
    ):
        wait = max(retry_after_seconds, result.retry_after_seconds or 0)
        error.headers["Retry-After"] = str(wait)
    return error


def unauthorized(ids: IdFactory) -> HttpAnswer:
    return HttpAnswer(
        401,
        {
            "error": {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": ids.fbtrace_id(),
            }
        },
    )


def invalid_parameter(message: str, ids: IdFactory) -> HttpAnswer:
    return graph_error(400, 100, message, message, ids)


def graph_error(status: int, code: int, message: str, details: str, ids: IdFactory) -> HttpAnswer:
    return HttpAnswer(
        status,
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": ids.fbtrace_id(),
            }
        },
    )


def webhook_body(waba_id: str, events: list[WebhookEvent]) -> dict[str, object]:
    """One Cloud webhook carrying ``events``, grouped as Meta groups them.

    Statuses of one phone number id share a ``value.statuses`` list, inbound messages a
    ``value.messages`` list (with their ``contacts``); each group is one ``change``. A receiver
    must therefore walk ``entry[].changes[].value.statuses[]``, as with Meta's own batches.
    """
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        if isinstance(event, EchoEvent):
            continue  # Evolution's; Cloud says "sent" with a status
        kind = "statuses" if isinstance(event, StatusEvent) else "messages"
        value = values.get((event.sender, kind))
        if value is None:
            value = values[(event.sender, kind)] = {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": event.sender,
                    "phone_number_id": event.sender,
                },
            }
        if isinstance(event, StatusEvent):
            value.setdefault("statuses", []).append(_status(event))
        else:
            value.setdefault("contacts", []).append(
                {"profile": {"name": event.profile_name}, "wa_id": event.from_number}
            )
            value.setdefault("messages", []).append(_message(event))
    changes = [{"field": "messages", "value": value} for value in values.values()]
    return {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": changes}]}


ACCOUNT_FIELDS = frozenset(
    {
        "message_template_status_update",
        "phone_number_quality_update",
        "account_update",
        "business_capability_update",
    }
)
"""The account-level webhook fields the simulator can emit on command."""


def change_body(waba_id: str, field: str, value: dict[str, object], at: float) -> dict[str, object]:
    """One account-level change in Meta's envelope, e.g. ``field`` =
    ``message_template_status_update`` with ``{"event": "PAUSED", "message_template_id": …}``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "time": int(at), "changes": [{"value": value, "field": field}]}],
    }


def template_status_value(template: "Template", reason: str | None) -> dict[str, object]:
    """``message_template_status_update``'s value for ``template``'s current status."""
    return {
        "event": template.status.value,
        "message_template_id": int(template.template_id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "message_template_category": template.category,
        "reason": reason or "NONE",
    }


def templates_page(
    templates: list["Template"], after: str | None, limit: int, next_url: str
) -> dict[str, object]:
    """``GET /{waba_id}/message_templates``: ``data`` and cursor ``paging``, as the Graph API
    pages (``next`` only while more remain; cursors are opaque base64 positions)."""
    start = _cursor_position(after)
    page = templates[start : start + limit]
    body: dict[str, object] = {"data": [t.as_graph() for t in page]}
    if page:
        paging: dict[str, object] = {
            "cursors": {
                "before": _cursor(start),
                "after": _cursor(start + len(page) - 1),
            }
        }
        if start + len(page) < len(templates):
            paging["next"] = f"{next_url}?limit={limit}&after={_cursor(start + len(page) - 1)}"
        body["paging"] = paging
    return body


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def _cursor_position(cursor: str | None) -> int:
    """The index after the one ``cursor`` names; an unreadable cursor starts over."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("pos:")) + 1
    except (ValueError, UnicodeDecodeError):
        return 0


def _status(event: StatusEvent) -> dict[str, object]:
    status: dict[str, object] = {
        "id": event.provider_message_id,
        "status": event.status,
        "timestamp": str(int(event.at)),
        "recipient_id": event.recipient,
    }
    if event.callback_data is not None:
        status["biz_opaque_callback_data"] = event.callback_data
    if event.failure is not None:
        status["errors"] = [failure_error(event.failure)]
    return status


def failure_error(verdict: Verdict) -> dict[str, object]:
    """One ``errors[]`` item of a ``failed`` status, e.g. for PERMANENT:
    ``{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
    "error_data": {"details": "Message Undeliverable."}, "href": ...}``."""
    refusal = _REFUSALS[verdict]
    return {
        "code": refusal.code,
        "title": refusal.title,
        "message": refusal.title,
        "error_data": {"details": refusal.details},
        "href": ERROR_CODES_URL,
    }


def _message(event: InboundEvent) -> dict[str, object]:
    return {
        "from": event.from_number,
        "id": event.provider_message_id,
        "timestamp": str(int(event.at)),
        "type": "text",
        "text": {"body": event.text},
    }


def signature(app_secret: str, raw_body: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes."""
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def webhook_headers(app_secret: str, raw_body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": signature(app_secret, raw_body)}
