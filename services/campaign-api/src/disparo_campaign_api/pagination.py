"""Cursor (keyset) pagination: an opaque cursor holds the sort key of the last item served.

Unlike ``OFFSET``, a page costs the same at row 10 and at row 1,000,000, and rows inserted
meanwhile never shift items between pages. A list query orders by a unique key, fetches
``limit + 1`` rows and resumes after the cursor's key, e.g. for contacts ordered by
``(created_at, id)``::

    WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
    ORDER BY created_at, id LIMIT $3::int

``decode_cursor(cursor, (datetime.fromisoformat, UUID))`` gives the typed values for ``$1, $2``;
``paginate(rows, limit, lambda r: (r["created_at"], r["id"]))`` builds the answer.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic_core import to_jsonable_python

from disparo_shared.problems import invalid
from disparo_shared.text_input import loads_json

T = TypeVar("T")

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Sequence[Any]) -> str:
    """An opaque, URL-safe cursor for a sort key (UUIDs and datetimes become strings)."""
    raw = json.dumps(to_jsonable_python(list(key)), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: Sequence[Callable[[Any], Any]]) -> list[Any] | None:
    """The typed sort key of ``cursor`` (None for the first page); a bad cursor is a 422."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = loads_json(base64.urlsafe_b64decode(padded.encode()), max_depth=2)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        return [convert(value) for convert, value in zip(types, values, strict=True)]
    except (ValueError, TypeError, binascii.Error):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None


def check_limit(limit: int | None, maximum: int, default: int = DEFAULT_LIMIT) -> int:
    """``?limit=`` within 1..maximum; out of range is a 422 naming ``limit``."""
    if limit is None:
        return min(default, maximum)
    if not 1 <= limit <= maximum:
        raise invalid("limit", f"must be between 1 and {maximum}")
    return limit


def paginate(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """A page from ``limit + 1`` fetched rows: the extra row only says another page exists."""
    items = list(rows[:limit])
    has_more = len(rows) > limit
    return Page(
        items=items, next_cursor=encode_cursor(key(items[-1])) if has_more and items else None
    )
