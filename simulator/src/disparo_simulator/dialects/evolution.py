"""The Evolution API v2 dialect: ``POST /message/sendText/{instance}``, its webhooks, and the
sent-message search ``POST /chat/findMessages/{instance}``.

Evolution answers every error as ``{"status", "error", "response": {"message": [...]}}``. It has
no codes for opted-out recipients, spam limits, the 24 h window or a locked account (it drives a
WhatsApp Web session, not the Cloud API): an opted-out recipient is answered like a number not on
WhatsApp (400 ``exists: false``), and the Cloud-only faults never apply to it. A locked (banned)
number's session is logged out and its instance removed, after which Evolution answers 404
``The "<instance>" instance does not exist``; that is what a locked sender gets here. It has no
failed status either, so its failures are always answered on the send itself.
"""

from datetime import UTC, datetime

import msgspec

from disparo_simulator.dialects import HttpAnswer
from disparo_simulator.events import EchoEvent, StatusEvent, WebhookEvent
from disparo_simulator.outcomes import Dialect, SendRequest, SendResult, Verdict
from disparo_simulator.phones import wa_id
from disparo_simulator.state import AcceptedSend

JID_SUFFIX = "@s.whatsapp.net"


class SendTextBody(msgspec.Struct):
    """The fields of a sendText request the simulator reads; others are ignored."""

    number: str
    text: str
    delay: int | None = None


def parse_send_text(
    instance: str, raw_body: bytes, message_id: str | None
) -> SendRequest | HttpAnswer:
    """The request as a ``SendRequest``, or the 400 Evolution gives for a malformed one."""
    try:
        body = msgspec.json.decode(raw_body, type=SendTextBody)
    except msgspec.DecodeError as error:
        return bad_request([str(error)])
    recipient = wa_id(body.number)
    if recipient is None:
        return not_on_whatsapp(body.number)
    if body.delay is not None and body.delay < 0:
        return bad_request(["delay must not be negative"])
    return SendRequest(
        dialect=Dialect.EVOLUTION,
        sender=instance,
        recipient=recipient,
        body=body.text,
        message_id=message_id,
        delay_ms=body.delay,
    )


def answer(request: SendRequest, result: SendResult) -> HttpAnswer:
    """Render the simulator's verdict as Evolution would answer it."""
    match result.verdict:
        case Verdict.ACCEPTED:
            return HttpAnswer(
                201,
                {
                    "key": {
                        "remoteJid": request.recipient + JID_SUFFIX,
                        "fromMe": True,
                        "id": result.provider_message_id,
                    },
                    "message": {"conversation": request.body},
                    "messageType": "conversation",
                    "messageTimestamp": int(result.accepted_at or 0),
                    "status": "PENDING",
                },
            )
        case Verdict.THROTTLED | Verdict.PAIR_LIMITED:
            return HttpAnswer(
                429,
                _error_body(429, "Too Many Requests", ["rate-overlimit"]),
                {"Retry-After": str(result.retry_after_seconds or 1)},
            )
        case Verdict.PERMANENT | Verdict.OPTED_OUT:
            return not_on_whatsapp(request.recipient)
        case Verdict.SENDER_LOCKED:
            return instance_not_found(request.sender)
        case Verdict.TIMEOUT:
            return HttpAnswer(504, _error_body(504, "Gateway Timeout", ["Timed Out"]))
        case _:
            return HttpAnswer(500, _error_body(500, "Internal Server Error", ["Connection Closed"]))


class MessageKey(msgspec.Struct):
    remoteJid: str | None = None  # noqa: N815 (Evolution's field name)
    fromMe: bool | None = None  # noqa: N815
    id: str | None = None


class MessageWhere(msgspec.Struct):
    key: MessageKey = msgspec.field(default_factory=MessageKey)


class FindMessagesBody(msgspec.Struct):
    """``{"where": {"key": {"remoteJid": "...@s.whatsapp.net"}}, "page": 1, "offset": 50}``:
    Evolution v2 pages by ``page`` (from 1) and ``offset`` (the page size, default 50)."""

    where: MessageWhere = msgspec.field(default_factory=MessageWhere)
    page: int = 1
    offset: int = 50


def parse_find_messages(raw_body: bytes) -> FindMessagesBody | HttpAnswer:
    """The search as asked, or Evolution's 400 for a malformed one."""
    try:
        body = msgspec.json.decode(raw_body or b"{}", type=FindMessagesBody)
    except msgspec.DecodeError as error:
        return bad_request([str(error)])
    if body.page < 1 or body.offset < 1:
        return bad_request(["page and offset must be positive"])
    return body


def found_messages(sends: list[AcceptedSend], page: int, offset: int) -> HttpAnswer:
    """One page of an instance's stored messages, newest first, as Evolution v2 lists them:
    ``{"messages": {"total", "pages", "currentPage", "records": [...]}}``."""
    newest_first = sorted(sends, key=lambda s: s.accepted_at, reverse=True)
    start = (page - 1) * offset
    records = [
        {
            "id": send.provider_message_id,
            "key": {
                "id": send.provider_message_id,
                "fromMe": True,
                "remoteJid": send.recipient + JID_SUFFIX,
            },
            "pushName": "",
            "messageType": "conversation",
            "message": {"conversation": send.body},
            "messageTimestamp": int(send.accepted_at),
            "instanceId": send.sender,
            "source": "unknown",
        }
        for send in newest_first[start : start + offset]
    ]
    total = len(sends)
    return HttpAnswer(
        200,
        {
            "messages": {
                "total": total,
                "pages": -(-total // offset),
                "currentPage": page,
                "records": records,
            }
        },
    )


def unauthorized() -> HttpAnswer:
    return HttpAnswer(401, _error_body(401, "Unauthorized", "Unauthorized"))


def bad_request(messages: list[str]) -> HttpAnswer:
    return HttpAnswer(400, _error_body(400, "Bad Request", messages))


def instance_not_found(instance: str) -> HttpAnswer:
    """Evolution's answer once an instance is gone, as a banned number's instance is."""
    return HttpAnswer(
        404, _error_body(404, "Not Found", [f'The "{instance}" instance does not exist'])
    )


def not_on_whatsapp(number: str) -> HttpAnswer:
    """Evolution's answer for a number without WhatsApp: permanent, retrying will not help."""
    digits = wa_id(number) or number
    return HttpAnswer(
        400,
        _error_body(
            400,
            "Bad Request",
            [{"exists": False, "jid": digits + JID_SUFFIX, "number": number}],
        ),
    )


def webhook_body(event: WebhookEvent, api_key: str) -> dict[str, object]:
    """One Evolution event per post: ``messages.update`` for a status, ``send.message`` for the
    echo of a message sent through the API, ``messages.upsert`` for an inbound message. Evolution
    never batches events."""
    if isinstance(event, EchoEvent):
        event_name = "send.message"
        data: dict[str, object] = {
            "key": {
                "remoteJid": event.recipient + JID_SUFFIX,
                "fromMe": True,
                "id": event.provider_message_id,
            },
            "message": {"conversation": event.body},
            "messageType": "conversation",
            "messageTimestamp": int(event.at),
            "instanceId": event.sender,
            "status": "PENDING",
        }
    elif isinstance(event, StatusEvent):
        event_name = "messages.update"
        data = {
            "keyId": event.provider_message_id,
            "remoteJid": event.recipient + JID_SUFFIX,
            "fromMe": True,
            "status": "READ" if event.status == "read" else "DELIVERY_ACK",
            "instanceId": event.sender,
        }
    else:
        event_name = "messages.upsert"
        data = {
            "key": {
                "remoteJid": event.from_number + JID_SUFFIX,
                "fromMe": False,
                "id": event.provider_message_id,
            },
            "pushName": event.profile_name,
            "message": {"conversation": event.text},
            "messageType": "conversation",
            "messageTimestamp": int(event.at),
            "instanceId": event.sender,
            "source": "android",
        }
    return {
        "event": event_name,
        "instance": event.sender,
        "data": data,
        "date_time": _iso(event.at),
        "sender": event.sender,
        "apikey": api_key,
    }


def webhook_headers(api_key: str) -> dict[str, str]:
    return {"apikey": api_key}


def _error_body(status: int, error: str, message: object) -> dict[str, object]:
    return {"status": status, "error": error, "response": {"message": message}}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
