"""Parses Evolution API webhooks (``messages.update``, ``messages.upsert``) into updates.

``messages.update`` for our own messages (``fromMe`` true or absent): ``DELIVERY_ACK`` →
delivered, ``READ`` and ``PLAYED`` (a voice note listened to) → read, ``ERROR`` → failed with
code ``evolution_error``; ``PENDING`` and ``SERVER_ACK`` (the phone took it, not the doctor) are
ignored. Evolution v1 numbers its statuses (0 error … 5 played); both forms are read.
``data`` may be one object (v2) or a list of them (v1).

``messages.upsert`` with ``fromMe`` false is a doctor writing to us: the conversation text, an
extended text, or a placeholder for other kinds (``[image]`` plus the caption when present).
Group chats and status broadcasts are skipped; a ``@lid`` sender is resolved through
``senderPn``/``remoteJidAlt`` when Evolution provides it, else skipped.

``send.message`` (Evolution posts it for every message sent through its API, ours included)
becomes a ``RecordedEcho``: the instance, the key id, the recipient (from ``remoteJid``), the
SHA-256 of the text and ``messageTimestamp``. It carries no id of ours, so ``echo_matching``
matches it to a doubtful send by those. Only our own sends (``fromMe`` true) to a person count.

Event names arrive as ``messages.update`` or ``MESSAGES_UPDATE`` depending on configuration.
"""

from typing import Any

from disparo_dispatcher.echo_matching import RecordedEcho, body_digest
from disparo_dispatcher.webhooks.parsing import (
    Clock,
    as_dict,
    as_list,
    e164_or_none,
    iso_time,
    unix_time,
)
from disparo_dispatcher.webhooks.updates import (
    DeliveryStatus,
    InboundText,
    StatusUpdate,
    WebhookBatch,
)

PROVIDER = "evolution"
STATUS_NAMES = {
    "DELIVERY_ACK": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.READ,
    "ERROR": DeliveryStatus.FAILED,
}
STATUS_NUMBERS = {
    0: DeliveryStatus.FAILED,
    3: DeliveryStatus.DELIVERED,
    4: DeliveryStatus.READ,
    5: DeliveryStatus.READ,
}
PLACEHOLDERS = {
    "imageMessage": "image",
    "audioMessage": "audio",
    "videoMessage": "video",
    "documentMessage": "document",
    "documentWithCaptionMessage": "document",
    "stickerMessage": "sticker",
    "locationMessage": "location",
    "liveLocationMessage": "location",
    "contactMessage": "contacts",
    "contactsArrayMessage": "contacts",
    "reactionMessage": "reaction",
    "pollCreationMessage": "poll",
}


def event_name(payload: dict[str, Any]) -> str:
    return str(payload.get("event") or "").lower().replace("_", ".")


def parse_evolution_webhook(payload: dict[str, Any], now: Clock) -> WebhookBatch:
    batch = WebhookBatch()
    name = event_name(payload)
    instance = str(payload.get("instance") or payload.get("sender") or "")
    fallback = iso_time(payload.get("date_time"), now())
    for item in as_list(payload.get("data")):
        data = as_dict(item)
        if name == "messages.update":
            update = _status(data, instance, fallback)
            if update is not None:
                batch.statuses.append(update)
        elif name == "messages.upsert":
            inbound = _inbound(data, instance, fallback)
            if inbound is not None:
                batch.inbound.append(inbound)
        elif name == "send.message":
            echo = _sent_echo(data, instance, fallback)
            if echo is not None:
                batch.echoes.append(echo)
    return batch


def _status_of(raw: Any) -> DeliveryStatus | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return STATUS_NUMBERS.get(raw)
    if isinstance(raw, str):
        return STATUS_NAMES.get(raw.upper())
    return None


def _status(data: dict[str, Any], instance: str, at: Any) -> StatusUpdate | None:
    key = as_dict(data.get("key"))
    from_me = data.get("fromMe", key.get("fromMe", True))
    provider_message_id = data.get("keyId") or key.get("id")
    raw_status = data.get("status", as_dict(data.get("update")).get("status"))
    status = _status_of(raw_status)
    if from_me is False or status is None or not isinstance(provider_message_id, str):
        return None
    return StatusUpdate(
        provider=PROVIDER,
        address=instance,
        provider_message_id=provider_message_id,
        status=status,
        at=at,
        error_code="evolution_error" if status is DeliveryStatus.FAILED else None,
        error="Evolution reported the message as ERROR"
        if status is DeliveryStatus.FAILED
        else None,
    )


def message_body(data: dict[str, Any]) -> str:
    """The text of an inbound message, or a placeholder naming its kind."""
    message = as_dict(data.get("message"))
    if isinstance(message.get("conversation"), str):
        return message["conversation"]
    extended = as_dict(message.get("extendedTextMessage"))
    if isinstance(extended.get("text"), str):
        return extended["text"]
    message_type = str(data.get("messageType") or next(iter(message), "unknown"))
    kind = PLACEHOLDERS.get(message_type, message_type.removesuffix("Message") or "unknown")
    caption = as_dict(message.get(message_type)).get("caption")
    return f"[{kind}] {caption}" if caption else f"[{kind}]"


def _sender_digits(key: dict[str, Any]) -> str | None:
    jid = str(key.get("remoteJid") or "")
    if jid.endswith(("@s.whatsapp.net", "@c.us")):
        return jid.split("@", 1)[0]
    if jid.endswith("@lid"):
        alternative = str(key.get("senderPn") or key.get("remoteJidAlt") or "")
        return alternative.split("@", 1)[0] or None
    return None  # groups (@g.us), status@broadcast, newsletters


def _inbound(data: dict[str, Any], instance: str, fallback: Any) -> InboundText | None:
    key = as_dict(data.get("key"))
    provider_message_id = key.get("id")
    phone = e164_or_none(_sender_digits(key))
    if key.get("fromMe") is not False or not isinstance(provider_message_id, str) or phone is None:
        return None
    return InboundText(
        provider=PROVIDER,
        address=instance,
        provider_message_id=provider_message_id,
        phone=phone,
        body=message_body(data),
        at=unix_time(data.get("messageTimestamp"), fallback),
    )


def _sent_echo(data: dict[str, Any], instance: str, fallback: Any) -> RecordedEcho | None:
    """Evolution's word that it sent a text through ``instance`` (ours or anyone's)."""
    key = as_dict(data.get("key"))
    provider_message_id = key.get("id")
    if key.get("fromMe") is False or not isinstance(provider_message_id, str):
        return None
    if not provider_message_id:
        return None
    return RecordedEcho(
        provider=PROVIDER,
        provider_message_id=provider_message_id,
        address=instance,
        message_id=None,
        recipient=e164_or_none(_sender_digits(key)),
        body_sha256=body_digest(message_body(data)),
        at=unix_time(data.get("messageTimestamp"), fallback),
    )
