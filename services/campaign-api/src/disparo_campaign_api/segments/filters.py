"""The segment filter language: JSON in, validated tree, parameterised SQL out.

A filter is a tree of groups and conditions::

    filter    := group | condition
    group     := {"all": [filter, ...]}        -- AND; an empty "all" matches every contact
               | {"any": [filter, ...]}        -- OR; must not be empty
    condition := {"field": FIELD, "op": OP, "value": VALUE}

    FIELD            OP                          VALUE
    specialty        eq, neq                     text
    region           in, not_in                  [text, ...] (1–1000 items)
    status
    tags             any, all, none              [text, ...] (any = overlaps, all = contains all)
    interactions     eq, gte, gt, lte, lt        integer ≥ 0 (replies received: engagement)
    last_contact_at  before, after               "2026-01-31" or "2026-01-31T09:00:00-03:00"
    last_inbound_at                              or {"days_ago": 30} (evaluated at use)
    last_outbound_at exists                      true | false (false = never happened)
    created_at

``last_contact_at`` is our last message or theirs, whichever is later (the spec's "último
contato"); ``last_inbound_at`` is their last message, ``last_outbound_at`` ours (sent).
    attributes.NAME  eq, neq                     text, number or boolean
                     in                          [scalar, ...]
                     exists                      true | false

Example — anesthesiologists of ABC tagged "disponível", or anyone engaged::

    {"any": [{"all": [{"field": "specialty", "op": "eq", "value": "Anestesiologia"},
                      {"field": "region", "op": "eq", "value": "ABC"},
                      {"field": "tags", "op": "any", "value": ["disponível"]}]},
             {"field": "interactions", "op": "gte", "value": 3}]}

Why a tree of our own and not SQL: field names come only from the whitelist below and every value
travels as a ``$n`` parameter, so a filter can never change the shape of a statement. Relative
dates stay relative in the stored filter; ``compile_filter`` turns them into instants with the
``now`` it is handed, so a saved "inactive for 30 days" means 30 days before each use.

Dates without a time zone are read in ``America/Sao_Paulo`` (a date alone is its midnight there),
because that is the zone the recruiters type dates in. ``neq``/``not_in``/``none`` match contacts
whose field is empty too (they are "not" that value). Opted-out contacts are excluded by the
audience query, not by the filter, so no filter can include them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_ZONE = ZoneInfo("America/Sao_Paulo")
MAX_DEPTH = 8
MAX_CONDITIONS = 100
# Groups count too: 20,000 empty groups hold no condition but would compile to a statement of
# 20,000 clauses (the "empty-group bomb").
MAX_NODES = 200
MAX_LIST_ITEMS = 1000
MAX_TEXT_LENGTH = 200
MAX_DAYS_AGO = 36_500
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
ATTRIBUTE_PREFIX = "attributes."


class FilterError(ValueError):
    """A filter is invalid; ``path`` names the offending node, e.g. ``filter.all[1].op``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FieldType(StrEnum):
    TEXT = "text"
    TAGS = "tags"
    INTEGER = "integer"
    TIMESTAMP = "timestamp"
    ATTRIBUTE = "attribute"


# Column of each field on ``contacts c``: the only identifiers a filter can reach.
FIELDS: dict[str, tuple[str, FieldType]] = {
    "specialty": ("c.specialty", FieldType.TEXT),
    "region": ("c.region", FieldType.TEXT),
    "status": ("c.status", FieldType.TEXT),
    "tags": ("c.tags", FieldType.TAGS),
    "interactions": ("c.interactions", FieldType.INTEGER),
    "last_contact_at": ("c.last_contact_at", FieldType.TIMESTAMP),
    "last_inbound_at": ("c.last_inbound_at", FieldType.TIMESTAMP),
    "last_outbound_at": ("c.last_outbound_at", FieldType.TIMESTAMP),
    "created_at": ("c.created_at", FieldType.TIMESTAMP),
}

OPERATORS: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: ("eq", "neq", "in", "not_in"),
    FieldType.TAGS: ("any", "all", "none"),
    FieldType.INTEGER: ("eq", "gte", "gt", "lte", "lt"),
    FieldType.TIMESTAMP: ("before", "after", "exists"),
    FieldType.ATTRIBUTE: ("eq", "neq", "in", "exists"),
}


# ---------------------------------------------------------------------------------------------
# The validated tree


@dataclass(frozen=True)
class DaysAgo:
    """A relative instant: ``days`` × 24 h before the ``now`` of each evaluation."""

    days: int


@dataclass(frozen=True)
class Condition:
    field: str  # a key of FIELDS, or "attributes.<name>"
    op: str
    value: Any  # normalised: str | list | int | bool | datetime | DaysAgo


@dataclass(frozen=True)
class Group:
    kind: str  # "all" | "any"
    children: tuple[Filter, ...]


Filter = Group | Condition


def parse_filter(raw: Any, path: str = "filter") -> Filter:
    """Validate JSON (already decoded) into a filter tree; raise ``FilterError`` naming the node."""
    counter = [0, 0]  # conditions, nodes
    return _parse(raw, path, 0, counter)


def _parse(raw: Any, path: str, depth: int, counter: list[int]) -> Filter:
    counter[1] += 1
    if counter[1] > MAX_NODES:
        raise FilterError(path, f"a filter holds at most {MAX_NODES} groups and conditions")
    if not isinstance(raw, dict):
        raise FilterError(path, 'must be an object: a group {"all"|"any": [...]} or a condition')
    if depth > MAX_DEPTH:
        raise FilterError(path, f"groups nest at most {MAX_DEPTH} deep")
    group_keys = [k for k in ("all", "any") if k in raw]
    if group_keys:
        if len(raw) != 1:
            extra = sorted(k for k in raw if k not in group_keys)
            where = f"{path}.{extra[0]}" if extra else path
            raise FilterError(where, 'a group has exactly one key, "all" or "any"')
        kind = group_keys[0]
        items = raw[kind]
        if not isinstance(items, list):
            raise FilterError(f"{path}.{kind}", "must be a list of filters")
        if kind == "any" and not items:
            raise FilterError(f"{path}.any", 'an "any" group needs at least one filter')
        children = tuple(
            _parse(item, f"{path}.{kind}[{i}]", depth + 1, counter) for i, item in enumerate(items)
        )
        return Group(kind, children)
    if "field" in raw or "op" in raw:
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise FilterError(path, f"a filter holds at most {MAX_CONDITIONS} conditions")
        return _parse_condition(raw, path)
    keys = ", ".join(sorted(map(str, raw))) or "none"
    raise FilterError(
        path, f"unknown filter node (keys: {keys}); expected all, any or field/op/value"
    )


def _parse_condition(raw: dict[str, Any], path: str) -> Condition:
    unknown = sorted(str(k) for k in raw if k not in ("field", "op", "value"))
    if unknown:
        raise FilterError(
            f"{path}.{unknown[0]}", "unknown key; a condition has field, op and value"
        )
    field = raw.get("field")
    if not isinstance(field, str):
        raise FilterError(f"{path}.field", "required text")
    field_type = _field_type(field, f"{path}.field")
    op = raw.get("op")
    allowed = OPERATORS[field_type]
    if not isinstance(op, str) or op not in allowed:
        shown = op if isinstance(op, str) else repr(op)
        raise FilterError(
            f"{path}.op", f"unknown operator {shown!r} for {field}; allowed: {', '.join(allowed)}"
        )
    if "value" not in raw:
        raise FilterError(f"{path}.value", "required")
    value = _parse_value(field_type, op, raw["value"], f"{path}.value")
    return Condition(field, op, value)


def _field_type(field: str, path: str) -> FieldType:
    if field in FIELDS:
        return FIELDS[field][1]
    if field.startswith(ATTRIBUTE_PREFIX):
        if _ATTRIBUTE_NAME.match(field[len(ATTRIBUTE_PREFIX) :]):
            return FieldType.ATTRIBUTE
        raise FilterError(path, "attribute names are letters, digits and _ (at most 63)")
    known = ", ".join([*FIELDS, "attributes.<name>"])
    raise FilterError(path, f"unknown field {field!r}; allowed: {known}")


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise FilterError(path, "must be text")
    if len(value) > MAX_TEXT_LENGTH:
        raise FilterError(path, f"at most {MAX_TEXT_LENGTH} characters")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise FilterError(path, "must be a non-empty list")
    if len(value) > MAX_LIST_ITEMS:
        raise FilterError(path, f"at most {MAX_LIST_ITEMS} items")
    return value


def _scalar(value: Any, path: str) -> str | int | float | bool:
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, bool | int | float):
        return value
    raise FilterError(path, "must be text, a number or a boolean")


def _parse_value(field_type: FieldType, op: str, value: Any, path: str) -> Any:
    if op == "exists":
        if not isinstance(value, bool):
            raise FilterError(path, "must be true or false")
        return value
    if field_type is FieldType.TEXT:
        if op in ("in", "not_in"):
            return [_text(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
        return _text(value, path)
    if field_type is FieldType.TAGS:
        return [_text(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
    if field_type is FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31 - 1:
            raise FilterError(path, "must be a whole number ≥ 0")
        return value
    if field_type is FieldType.TIMESTAMP:
        return _parse_instant(value, path)
    # attributes
    if op == "in":
        return [_scalar(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
    return _scalar(value, path)


def _parse_instant(value: Any, path: str) -> datetime | DaysAgo:
    if isinstance(value, dict):
        if set(value) != {"days_ago"}:
            raise FilterError(path, 'a relative date is {"days_ago": n}')
        days = value["days_ago"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS_AGO:
            raise FilterError(
                f"{path}.days_ago", f"must be a whole number from 0 to {MAX_DAYS_AGO}"
            )
        return DaysAgo(days)
    if not isinstance(value, str) or len(value) > 40:
        raise FilterError(path, 'must be an ISO date/date-time or {"days_ago": n}')
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), DEFAULT_ZONE)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(path, f"not an ISO date or date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=DEFAULT_ZONE)


def filter_to_json(node: Filter) -> dict[str, Any]:
    """The canonical JSON of a tree (relative dates kept relative), for storage and responses."""
    if isinstance(node, Group):
        return {node.kind: [filter_to_json(child) for child in node.children]}
    value = node.value
    if isinstance(value, DaysAgo):
        value = {"days_ago": value.days}
    elif isinstance(value, datetime):
        value = value.isoformat()
    return {"field": node.field, "op": node.op, "value": value}


# ---------------------------------------------------------------------------------------------
# Compilation


class Parameters:
    """The ``$n`` parameters of one statement; ``add`` returns the typed placeholder."""

    def __init__(self, first_index: int = 1) -> None:
        self._first = first_index
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${self._first + len(self.values) - 1}::{cast}"


_TEXT_OPS = {"eq": "{col} = {p}", "neq": "{col} IS DISTINCT FROM {p}"}
_INT_OPS = {"eq": "=", "gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}


def compile_filter(node: Filter, now: datetime, params: Parameters) -> str:
    """SQL boolean expression over ``contacts c``; values are appended to ``params``.

    The text holds only whitelisted column names, operators, parentheses and ``$n`` placeholders.
    """
    if isinstance(node, Group):
        if not node.children:
            return "TRUE"
        joiner = " AND " if node.kind == "all" else " OR "
        return "(" + joiner.join(compile_filter(c, now, params) for c in node.children) + ")"
    return _compile_condition(node, now, params)


def _compile_condition(cond: Condition, now: datetime, params: Parameters) -> str:
    if cond.field.startswith(ATTRIBUTE_PREFIX):
        return _compile_attribute(cond, params)
    column, field_type = FIELDS[cond.field]
    op, value = cond.op, cond.value
    if field_type is FieldType.TEXT:
        if op in _TEXT_OPS:
            return _TEXT_OPS[op].format(col=column, p=params.add(value, "text"))
        if op == "in":
            return f"{column} = ANY({params.add(value, 'text[]')})"
        return f"NOT coalesce({column} = ANY({params.add(value, 'text[]')}), false)"
    if field_type is FieldType.TAGS:
        placeholder = params.add(value, "text[]")
        if op == "any":
            return f"{column} && {placeholder}"
        if op == "all":
            return f"{column} @> {placeholder}"
        return f"NOT coalesce({column} && {placeholder}, false)"
    if field_type is FieldType.INTEGER:
        return f"{column} {_INT_OPS[op]} {params.add(value, 'int')}"
    # timestamps
    if op == "exists":
        return f"{column} IS {'NOT ' if value else ''}NULL"
    instant = now - timedelta(days=value.days) if isinstance(value, DaysAgo) else value
    comparison = "<" if op == "before" else ">="
    return f"{column} {comparison} {params.add(instant, 'timestamptz')}"


def _compile_attribute(cond: Condition, params: Parameters) -> str:
    name = cond.field[len(ATTRIBUTE_PREFIX) :]
    if cond.op == "exists":
        test = f"c.attributes ? {params.add(name, 'text')}"
        return test if cond.value else f"NOT ({test})"
    if cond.op == "in":
        # jsonb containment of [value] in the list: exact JSON equality per item, index-free.
        return (
            f"{params.add(cond.value, 'jsonb')} @> "
            f"jsonb_build_array(c.attributes -> {params.add(name, 'text')})"
        )
    # {"name": value} containment uses the GIN index on attributes when there is one.
    key, value = params.add(name, "text"), params.add(cond.value, "jsonb")
    test = f"c.attributes @> jsonb_build_object({key}, {value})"
    return test if cond.op == "eq" else f"NOT coalesce({test}, false)"


def audience_condition(node: Filter, now: datetime, params: Parameters) -> str:
    """The full WHERE of an audience: never an opted-out contact, then the filter."""
    return f"c.opted_out_at IS NULL AND {compile_filter(node, now, params)}"


def opted_out_condition(node: Filter, now: datetime, params: Parameters) -> str:
    """The WHERE of the opted-out contacts the filter matches: those the audience leaves out."""
    return f"c.opted_out_at IS NOT NULL AND {compile_filter(node, now, params)}"
