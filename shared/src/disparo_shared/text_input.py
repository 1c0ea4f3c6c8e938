"""Checks for text and JSON from outside: nesting bounded, no control or bidi characters.

JSON is parsed with orjson, which stops at 1,024 levels with an error instead of Python's
RecursionError; values kept or walked afterwards (attributes, cursors) are held to a much
smaller depth, checked without recursion. Text fields refuse NUL and the other C0 controls
(Postgres cannot store NUL; the rest only hide things) and the bidirectional embeddings,
overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make "Ana‮txt.exe" read as
something else on a recruiter's screen. Line breaks and tabs stay allowed where text is
multi-line (message bodies).
"""

import re
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

MAX_JSON_DEPTH = 16
_BIDI = "\u202a-\u202e\u2066-\u2069"
_CONTROL_OR_BIDI = re.compile(f"[\\x00-\\x1f\\x7f{_BIDI}]")
_CONTROL_OR_BIDI_MULTILINE = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f{_BIDI}]")


class JsonInputError(ValueError):
    """Text that is not JSON, or JSON nested deeper than allowed."""


def loads_json(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON from outside; too deep, empty or malformed input is a ``JsonInputError``."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise JsonInputError(f"not JSON: {exc.msg}") from None
    if nesting_exceeds(value, max_depth):
        raise JsonInputError(f"nested deeper than {max_depth} levels")
    return value


def nesting_exceeds(value: Any, max_depth: int) -> bool:
    """Whether lists/objects in ``value`` nest deeper than ``max_depth`` (iterative walk)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def unsafe_character(text: str, multiline: bool = False) -> str | None:
    """The reason ``text`` cannot be stored as-is, or None when it is clean."""
    pattern = _CONTROL_OR_BIDI_MULTILINE if multiline else _CONTROL_OR_BIDI
    found = pattern.search(text)
    if found is None:
        return None
    return f"character U+{ord(found.group()):04X} (a control or bidi character) is not allowed"


def first_unsafe_string(value: Any) -> str | None:
    """The reason the first unsafe key or string inside a JSON value is unsafe, else None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            reason = unsafe_character(item)
            if reason:
                return reason
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def _refuse_unsafe_line(text: str) -> str:
    reason = unsafe_character(text)
    if reason:
        raise ValueError(reason)
    return text


def _refuse_unsafe_text(text: str) -> str:
    reason = unsafe_character(text, multiline=True)
    if reason:
        raise ValueError(reason)
    return text


SafeLine = Annotated[str, AfterValidator(_refuse_unsafe_line)]
"""A one-line text field (a name): no control or bidi character; a 422 naming it otherwise."""

SafeText = Annotated[str, AfterValidator(_refuse_unsafe_text)]
"""A multi-line text field (a template): line breaks and tabs allowed, other controls not."""
