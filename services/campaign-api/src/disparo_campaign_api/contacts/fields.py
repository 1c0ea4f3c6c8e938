"""The rules of a contact's fields, shared by the API and the bulk import.

Each ``clean_*`` function takes what a client sent and returns the stored form, or raises
``FieldError`` naming the field and the reason, which the API turns into a 422 problem and the
import into an error row. ``None`` always means "not given": an upsert keeps the stored value.
"""

import re
import zoneinfo
from functools import lru_cache
from typing import Any

from disparo_campaign_api.contacts.phones import normalize_phone_fast
from disparo_shared.phones import InvalidPhone
from disparo_shared.text_input import MAX_JSON_DEPTH, first_unsafe_string, nesting_exceeds

MAX_TEXT = 200
MAX_TAGS = 50
MAX_TAG = 64
MAX_ATTRIBUTES_KEYS = 100
DEFAULT_STATUS = "active"
# The spec's opt-out marker (what the old ``clientes`` table holds in ``status``). A write that
# carries it opts the contact out (consent history, ``contact.opted_out``) instead of storing it
# as a business status: opt-out lives apart from status so that no later status can undo it.
OPT_OUT_STATUS = "optout"
_OPT_OUT_SPELLINGS = frozenset({"optout", "opt_out", "opted_out"})
DEFAULT_TIME_ZONE = "America/Sao_Paulo"
TAG_SEPARATORS = re.compile(r"[|;,]")
_STATUS = re.compile(r"[a-z][a-z0-9_]{0,31}")
_CONTROL = re.compile("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")  # controls and bidi


class FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def clean_phone(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FieldError("phone", "required, as text")
    try:
        return normalize_phone_fast(str(value))
    except InvalidPhone as exc:
        raise FieldError("phone", str(exc)) from None


def clean_text(field: str, value: Any) -> str | None:
    """Trimmed text up to 200 characters; empty means not given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(field, "must be text")
    text = value.strip()
    if not text:
        return None
    if len(text) <= MAX_TEXT and text.isprintable():  # the fast, common case
        return text
    if len(text) > MAX_TEXT:
        raise FieldError(field, f"at most {MAX_TEXT} characters")
    if _CONTROL.search(text):
        raise FieldError(field, "control and bidi characters are not allowed")
    return text


def clean_tags(value: Any) -> list[str] | None:
    """A list of tags, or one text separated by ``|``, ``;`` or ``,``;
    trimmed, deduplicated in order.

    ``"disponível; noturno|disponível"`` → ``["disponível", "noturno"]``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        items: list[Any] = TAG_SEPARATORS.split(value)
    elif isinstance(value, list):
        items = value
    else:
        raise FieldError("tags", "must be a list of text")
    tags: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            raise FieldError("tags", "must be a list of text")
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG or _CONTROL.search(tag):
            raise FieldError("tags", f"each tag is 1–{MAX_TAG} printable characters")
        tags[tag] = None
    if len(tags) > MAX_TAGS:
        raise FieldError("tags", f"at most {MAX_TAGS} tags")
    return list(tags)


def clean_status(value: Any) -> str | None:
    """A lower-case slug such as ``active``, ``inactive``, ``on_leave``.

    ``optout`` (also ``opt_out``, ``opted_out``, any case) comes back as ``OPT_OUT_STATUS``: the
    caller opts the contact out and stores no status for it (``stored_status``).
    """
    text = clean_text("status", value)
    return None if text is None else _status(text)


@lru_cache(maxsize=256)
def _status(text: str) -> str:
    status = text.lower()
    if not _STATUS.fullmatch(status):
        raise FieldError("status", "a lower-case word of letters, digits and _ (e.g. active)")
    return OPT_OUT_STATUS if status in _OPT_OUT_SPELLINGS else status


def marks_opt_out(value: Any) -> bool:
    """Whether a status as sent is the opt-out marker (an invalid one is not: it fails cleaning)."""
    try:
        return clean_status(value) == OPT_OUT_STATUS
    except FieldError:
        return False


def stored_status(status: str | None) -> str | None:
    """The business status to store for a cleaned status: none for the opt-out marker."""
    return None if status == OPT_OUT_STATUS else status


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value: Any) -> str | None:
    """An IANA zone name, e.g. ``America/Manaus``; quiet hours are computed in it."""
    text = clean_text("time_zone", value)
    if text is None or text == DEFAULT_TIME_ZONE:
        return text
    if text not in _time_zones():
        raise FieldError("time_zone", "not an IANA time zone (e.g. America/Sao_Paulo)")
    return text


def clean_attributes(value: Any) -> dict[str, Any] | None:
    """Custom attributes: a JSON object of at most 100 keys, used by segments and templates."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError("attributes", "must be a JSON object")
    if len(value) > MAX_ATTRIBUTES_KEYS:
        raise FieldError("attributes", f"at most {MAX_ATTRIBUTES_KEYS} keys")
    for key in value:
        if not key.strip():
            raise FieldError("attributes", "keys must not be empty")
    if nesting_exceeds(value, MAX_JSON_DEPTH):
        raise FieldError("attributes", f"nested deeper than {MAX_JSON_DEPTH} levels")
    unsafe = first_unsafe_string(value)
    if unsafe:
        raise FieldError("attributes", unsafe)
    return value or None
