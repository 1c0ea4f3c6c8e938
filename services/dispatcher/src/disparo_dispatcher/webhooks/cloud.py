"""Parses Meta Cloud API webhooks (``object: whatsapp_business_account``) into updates.

One POST may carry several entries, changes, statuses and messages; each becomes one update.
Statuses: ``delivered``, ``read`` and ``failed`` (its first ``errors[].code`` becomes the error
code) are kept; ``sent`` becomes a ``RecordedEcho`` (our message id, the wamid, the recipient),
the proof a doubtful send went out (``echo_matching``), never a ``message.sent`` of its own, since
our record of the send is the source of that fact; ``deleted``/``warning`` carry nothing we
report. ``biz_opaque_callback_data`` is our message id, so the status maps to our message even
before we stored Meta's id.

Inbound ``messages``: text keeps its body; a button or list reply keeps its title; every other
kind is recorded with a placeholder (``[image]``, ``[audio]`` …, plus the caption when there is
one) so a doctor's photo still counts as a reply. ``system`` messages (number changed) are not
replies and are skipped, as are senders that are not phone numbers.
"""

from typing import Any

from disparo_dispatcher.echo_matching import RecordedEcho
from disparo_dispatcher.webhooks.parsing import (
    Clock,
    as_dict,
    as_list,
    e164_or_none,
    unix_time,
    uuid_or_none,
)
from disparo_dispatcher.webhooks.updates import (
    DeliveryStatus,
    InboundText,
    NumberHealth,
    StatusUpdate,
    TemplateStatusChange,
    WebhookBatch,
)

PROVIDER = "cloud"
SENT = "sent"
KEPT_STATUSES = {s.value: s for s in DeliveryStatus}
SKIPPED_MESSAGE_TYPES = frozenset({"system", "unsupported", "ephemeral"})


def parse_cloud_webhook(payload: dict[str, Any], now: Clock) -> WebhookBatch:
    batch = WebhookBatch()
    for entry in as_list(payload.get("entry")):
        waba_id = str(as_dict(entry).get("id") or "")
        for change in as_list(as_dict(entry).get("changes")):
            field = str(as_dict(change).get("field") or "messages")
            value = as_dict(as_dict(change).get("value"))
            if field != "messages":
                _account_change(batch, waba_id, field, value)
                continue
            address = str(as_dict(value.get("metadata")).get("phone_number_id") or "")
            for item in as_list(value.get("statuses")):
                status = as_dict(item)
                if str(status.get("status", "")).lower() == SENT:
                    echo = _sent_echo(status, address, now)
                    if echo is not None:
                        batch.echoes.append(echo)
                    continue
                update = _status(status, address, now)
                if update is not None:
                    batch.statuses.append(update)
            for message in as_list(value.get("messages")):
                inbound = _inbound(as_dict(message), address, now)
                if inbound is not None:
                    batch.inbound.append(inbound)
    return batch


TEMPLATE_STATUS_FIELD = "message_template_status_update"
HEALTH_FIELDS = frozenset(
    {"phone_number_quality_update", "account_update", "business_capability_update"}
)
QUALITY_BY_EVENT = {"FLAGGED": "RED", "UNFLAGGED": "GREEN"}
TIER_BY_NUMBER = {250: "TIER_250", 2000: "TIER_2K", 10000: "TIER_10K", 100000: "TIER_100K"}


def _account_change(batch: WebhookBatch, waba_id: str, field: str, value: dict[str, Any]) -> None:
    """A template's status, a number's quality or the portfolio's tier; other fields are
    answered 200 and ignored."""
    if field == TEMPLATE_STATUS_FIELD:
        name = value.get("message_template_name")
        language = value.get("message_template_language")
        event = value.get("event")
        if isinstance(name, str) and isinstance(language, str) and isinstance(event, str):
            template_id = value.get("message_template_id")
            batch.template_changes.append(
                TemplateStatusChange(
                    waba_id=waba_id,
                    name=name,
                    language=language,
                    status=event.upper(),
                    template_id=None if template_id is None else str(template_id),
                    category=value.get("message_template_category"),
                    reason=value.get("reason"),
                )
            )
        return
    if field not in HEALTH_FIELDS:
        return
    event = str(value.get("event") or "").upper()
    quality = str(value["quality_rating"]).upper() if value.get("quality_rating") else None
    tier = tier_name(
        value.get("max_daily_conversations_per_business")
        or value.get("current_limit")
        or value.get("max_daily_conversation_per_phone")
    )
    if quality or event in QUALITY_BY_EVENT or tier:
        display = value.get("display_phone_number") or value.get("phone_number")
        batch.health.append(
            NumberHealth(
                waba_id=waba_id,
                display_phone_number=None if display is None else str(display).lstrip("+"),
                quality=quality or QUALITY_BY_EVENT.get(event),
                tier=tier,
            )
        )


def tier_name(limit: object) -> str | None:
    """Meta's limit as one of our tier names: ``"TIER_2K"`` stays, ``2000`` → ``"TIER_2K"``,
    ``-1`` → ``"TIER_UNLIMITED"``; anything else (TIER_NOT_SET, TIER_50) → None."""
    if isinstance(limit, str) and limit.upper().startswith("TIER_"):
        return limit.upper()
    try:
        number = int(limit)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return "TIER_UNLIMITED" if number < 0 else TIER_BY_NUMBER.get(number)


def _status(status: dict[str, Any], address: str, now: Clock) -> StatusUpdate | None:
    kind = KEPT_STATUSES.get(str(status.get("status", "")).lower())
    provider_message_id = status.get("id")
    if kind is None or not isinstance(provider_message_id, str) or not provider_message_id:
        return None
    error_code = error = None
    if kind is DeliveryStatus.FAILED:
        first = as_dict((as_list(status.get("errors")) or [{}])[0])
        error_code = str(first.get("code", "unknown"))
        details = as_dict(first.get("error_data")).get("details")
        error = str(details or first.get("message") or first.get("title") or "failed")
    return StatusUpdate(
        provider=PROVIDER,
        address=address,
        provider_message_id=provider_message_id,
        status=kind,
        at=unix_time(status.get("timestamp"), now()),
        message_id=uuid_or_none(status.get("biz_opaque_callback_data")),
        error_code=error_code,
        error=error,
    )


def _sent_echo(status: dict[str, Any], address: str, now: Clock) -> RecordedEcho | None:
    """Meta's word that it sent one of our messages (it names it by our callback data)."""
    provider_message_id = status.get("id")
    if not isinstance(provider_message_id, str) or not provider_message_id:
        return None
    return RecordedEcho(
        provider=PROVIDER,
        provider_message_id=provider_message_id,
        address=address,
        message_id=uuid_or_none(status.get("biz_opaque_callback_data")),
        recipient=e164_or_none(status.get("recipient_id")),
        body_sha256=None,  # Meta does not repeat the text; our id is the proof
        at=unix_time(status.get("timestamp"), now()),
    )


def message_body(message: dict[str, Any]) -> str:
    """The text of an inbound message, or a placeholder naming its kind."""
    kind = str(message.get("type") or "unknown")
    content = as_dict(message.get(kind))
    if kind == "text":
        return str(content.get("body") or "")
    if kind == "button":
        return str(content.get("text") or "[button]")
    if kind == "interactive":
        reply = as_dict(content.get("button_reply")) or as_dict(content.get("list_reply"))
        return str(reply.get("title") or "[interactive]")
    if kind == "reaction":
        return f"[reaction] {content.get('emoji') or ''}".rstrip()
    caption = content.get("caption")
    return f"[{kind}] {caption}" if caption else f"[{kind}]"


def _inbound(message: dict[str, Any], address: str, now: Clock) -> InboundText | None:
    provider_message_id = message.get("id")
    phone = e164_or_none(message.get("from"))
    if (
        str(message.get("type")) in SKIPPED_MESSAGE_TYPES
        or not isinstance(provider_message_id, str)
        or not provider_message_id
        or phone is None
    ):
        return None
    return InboundText(
        provider=PROVIDER,
        address=address,
        provider_message_id=provider_message_id,
        phone=phone,
        body=message_body(message),
        at=unix_time(message.get("timestamp"), now()),
    )
