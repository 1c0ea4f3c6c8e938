"""The segment builder's form, read into campaign-api's filter language and back (pure, no I/O).

The builder is a tree: the root group, its conditions and nested groups, each group combining
its members with ``all`` (E) or ``any`` (OU). A node is named by its path of positions, ``1-0``
being the first member of the root's second member; its controls are ``cond-1-0-field`` /
``-op`` / ``-value`` (a condition) or ``cond-1-combinator`` (a group; the root's is
``combinator``). A hidden ``nodes`` field lists the paths and kinds in order, ``0:c,1:g,1-0:c``
(c condition, g group, k a condition the builder shows but cannot edit, kept as JSON).

Rows with an empty value, and groups left without a filled row, are left out, so a half-typed
row never breaks the live count. Example: specialty = Pediatria and (tags any "noturno" or at
least 3 interactions) become::

    {"all": [{"field": "specialty", "op": "eq", "value": "Pediatria"},
             {"any": [{"field": "tags", "op": "any", "value": ["noturno"]},
                      {"field": "interactions", "op": "gte", "value": 3}]}]}

``tree_from_filter`` reads any filter back into a tree (saved and predefined segments open in
the builder); a condition the builder has no control for (a custom attribute, say) is kept as is.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# field -> operators the builder offers; the labels are in the catalogue (segment.field.*).
# "missing" is the builder's name for {"op": "exists", "value": false}.
_TEXT_OPS = ("eq", "neq", "in", "not_in")
_DATE_OPS = ("before", "after", "exists", "missing")
FIELDS: dict[str, tuple[str, ...]] = {
    "specialty": _TEXT_OPS,
    "region": _TEXT_OPS,
    "status": _TEXT_OPS,
    "tags": ("any", "all", "none"),
    "interactions": ("gte", "lte", "eq", "gt", "lt"),
    "last_contact_at": _DATE_OPS,
    "last_inbound_at": _DATE_OPS,
    "last_outbound_at": _DATE_OPS,
    "created_at": _DATE_OPS,
}
LIST_OPS = {"in", "not_in", "any", "all", "none"}
NUMBER_FIELDS = {"interactions"}
DATE_FIELDS = {"last_contact_at", "last_inbound_at", "last_outbound_at", "created_at"}
VALUELESS_OPS = {"exists", "missing"}
COMBINATORS = ("all", "any")
DEFAULT_ROWS = 2
MAX_DEPTH = 3  # groups inside groups below the root; campaign-api allows 8
MAX_NODES = 40  # conditions and groups below the root; campaign-api allows 200
_LIST_SEPARATORS = re.compile(r"[,;]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Kept:
    """A condition the builder cannot edit, shown and sent back unchanged."""

    raw: str  # its JSON


@dataclass(frozen=True)
class Group:
    combinator: str = "all"
    children: tuple["Node", ...] = ()


Node = Group | Condition | Kept


def empty_condition() -> Condition:
    return Condition("specialty", "eq", "")


def key_of(path: tuple[int, ...]) -> str:
    return "-".join(map(str, path))


def control_id(path: tuple[int, ...], control: str) -> str:
    """The id and name of a node's control: ``cond-1-0-value``; the root's combinator is
    ``combinator``."""
    return f"cond-{key_of(path)}-{control}" if path else control


@dataclass(frozen=True)
class SegmentForm:
    tree: Group = field(default_factory=lambda: Group("all", (empty_condition(),) * DEFAULT_ROWS))
    segment_id: str = ""
    max_per_day: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    focus: str = ""  # the control to focus after an edit (add, remove), for keyboard users

    def filter(self) -> dict[str, Any]:
        """The filter of the filled rows; with none filled, ``{"all": []}`` (every doctor)."""
        return filter_of(self.tree) or {"all": []}

    def node_list(self) -> str:
        return ",".join(f"{key_of(path)}:{_kind(node)}" for path, node in walk(self.tree) if path)

    def node_count(self) -> int:
        return sum(1 for path, _ in walk(self.tree) if path)

    def max_per_day_value(self) -> int | None:
        return (
            int(self.max_per_day)
            if self.max_per_day.isdigit() and int(self.max_per_day) > 0
            else None
        )


def _kind(node: Node) -> str:
    return "g" if isinstance(node, Group) else "k" if isinstance(node, Kept) else "c"


def walk(node: Node, path: tuple[int, ...] = ()):
    """Every node with its path, in document order (the root first, path ``()``)."""
    yield path, node
    if isinstance(node, Group):
        for i, child in enumerate(node.children):
            yield from walk(child, (*path, i))


# ---------------------------------------------------------------------------------------------
# Tree -> filter


def filter_of(node: Node) -> dict[str, Any] | None:
    """A node's filter, or None when nothing in it is filled."""
    if isinstance(node, Kept):
        return json.loads(node.raw)
    if isinstance(node, Condition):
        return condition_filter(node)
    members = [f for f in (filter_of(child) for child in node.children) if f is not None]
    return {node.combinator: members} if members else None


def condition_filter(row: Condition) -> dict[str, Any] | None:
    if row.field not in FIELDS or row.op not in FIELDS[row.field]:
        return None
    if row.op in VALUELESS_OPS:
        return {"field": row.field, "op": "exists", "value": row.op == "exists"}
    value = row.value.strip()
    if not value:
        return None
    if row.op in LIST_OPS:
        items = [v.strip() for v in _LIST_SEPARATORS.split(value) if v.strip()]
        return {"field": row.field, "op": row.op, "value": items} if items else None
    if row.field in NUMBER_FIELDS:
        return {"field": row.field, "op": row.op, "value": int(value)} if value.isdigit() else None
    if row.field in DATE_FIELDS:
        if value.isdigit():
            return {"field": row.field, "op": row.op, "value": {"days_ago": int(value)}}
        return {"field": row.field, "op": row.op, "value": value} if _is_date(value) else None
    return {"field": row.field, "op": row.op, "value": value}


def _is_date(value: str) -> bool:
    try:
        if _DATE.match(value):
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Filter -> tree


def tree_from_filter(raw: Any) -> Group:
    """The builder's tree of a filter (a saved or predefined segment's); a lone condition
    becomes a root group holding it."""
    node = _node_from_filter(raw)
    return node if isinstance(node, Group) else Group("all", (node,))


def _node_from_filter(raw: Any) -> Node:
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, members),) = raw.items()
        if kind in COMBINATORS and isinstance(members, list):
            return Group(kind, tuple(_node_from_filter(m) for m in members))
    return _condition_from_filter(raw) or Kept(json.dumps(raw, ensure_ascii=False))


def _condition_from_filter(raw: Any) -> Condition | None:
    if not isinstance(raw, dict) or set(raw) != {"field", "op", "value"}:
        return None
    name, op, value = raw["field"], raw["op"], raw["value"]
    if name not in FIELDS:
        return None
    if name in DATE_FIELDS and op == "exists" and isinstance(value, bool):
        return Condition(name, "exists" if value else "missing", "")
    if op not in FIELDS[name] or op in VALUELESS_OPS:
        return None
    if op in LIST_OPS:
        if isinstance(value, list) and value and all(_plain_item(v) for v in value):
            return Condition(name, op, ", ".join(value))
        return None
    if name in NUMBER_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return Condition(name, op, str(value)) if ok else None
    if name in DATE_FIELDS:
        if isinstance(value, dict) and set(value) == {"days_ago"}:
            days = value["days_ago"]
            ok = isinstance(days, int) and not isinstance(days, bool) and days >= 0
            return Condition(name, op, str(days)) if ok else None
        ok = isinstance(value, str) and not value.isdigit() and _is_date(value)
        return Condition(name, op, value) if ok else None
    ok = isinstance(value, str) and value == value.strip() and value != ""
    return Condition(name, op, value) if ok else None


def _plain_item(value: Any) -> bool:
    """A list item the comma-separated field can carry unchanged."""
    return (
        isinstance(value, str)
        and value == value.strip()
        and value != ""
        and not _LIST_SEPARATORS.search(value)
    )


# ---------------------------------------------------------------------------------------------
# Posted form -> tree, and the builder's edits


def read_segment_form(form: Mapping[str, str], action: str = "") -> SegmentForm:
    """The builder's state from posted fields, after ``action``: ``condicao:<path>`` adds an
    empty condition to that group, ``grupo:<path>`` a group holding one, ``remover:<path>``
    removes a node (``adicionar`` is the root's ``condicao:``)."""
    errors: dict[str, str] = {}
    tree = _posted_tree(form, errors)
    focus = ""
    if action == "adicionar":
        action = "condicao:"
    verb, _, key = action.partition(":")
    path = _path(key)
    if path is not None and verb in ("condicao", "grupo", "remover"):
        tree, focus = _edit(tree, verb, path)
    return SegmentForm(
        tree=tree,
        segment_id=form.get("segment_id", ""),
        max_per_day=form.get("max_per_day", "").strip(),
        errors=errors,
        focus=focus,
    )


def _path(key: str) -> tuple[int, ...] | None:
    if key == "":
        return ()
    parts = key.split("-")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _posted_tree(form: Mapping[str, str], errors: dict[str, str]) -> Group:
    if "nodes" in form:
        entries = []
        for item in form["nodes"].split(",")[:MAX_NODES]:
            key, _, kind = item.partition(":")
            path = _path(key)
            if path and len(path) <= MAX_DEPTH + 1 and kind in ("c", "g", "k"):
                entries.append((path, kind))
    else:  # a flat form (no nodes list): conditions 0 … rows-1 under the root
        rows = form.get("rows", "")
        count = min(int(rows) if rows.isdigit() else DEFAULT_ROWS, MAX_NODES)
        entries = [((i,), "c") for i in range(count)]
    children: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    kinds = dict(entries)
    for path, _ in entries:
        if path[:-1] == () or kinds.get(path[:-1]) == "g":
            children.setdefault(path[:-1], []).append(path)

    def build(path: tuple[int, ...]) -> Node:
        kind = kinds.get(path, "g")
        if kind == "k":
            return _kept(form.get(control_id(path, "raw"), ""))
        if kind == "c":
            return _posted_condition(form, path, errors)
        members = tuple(build(p) for p in sorted(children.get(path, [])))
        combinator = form.get(control_id(path, "combinator"), "all")
        return Group(combinator if combinator in COMBINATORS else "all", members)

    root = build(())
    assert isinstance(root, Group)
    return root


def _kept(raw: str) -> Node:
    try:
        return Kept(json.dumps(json.loads(raw), ensure_ascii=False))
    except ValueError:
        return empty_condition()


def _posted_condition(form: Mapping[str, str], path: tuple[int, ...], errors: dict) -> Condition:
    name = form.get(control_id(path, "field"), "specialty")
    name = name if name in FIELDS else "specialty"
    op = form.get(control_id(path, "op"), FIELDS[name][0])
    op = op if op in FIELDS[name] else FIELDS[name][0]
    value = form.get(control_id(path, "value"), "")
    typed = value.strip()
    if typed and op not in VALUELESS_OPS and op not in LIST_OPS:
        if name in NUMBER_FIELDS and not typed.isdigit():
            errors[control_id(path, "value")] = "segment.error.number"
        elif name in DATE_FIELDS and not typed.isdigit() and not _is_date(typed):
            errors[control_id(path, "value")] = "segment.error.date"
    return Condition(name, op, value)


def _edit(tree: Group, verb: str, path: tuple[int, ...]) -> tuple[Group, str]:
    """The tree after one edit and the control to focus; an edit past the limits changes
    nothing."""
    target = _find(tree, path)
    size = sum(1 for p, _ in walk(tree) if p)
    if verb == "remover":
        if not path or target is None:
            return tree, ""
        parent = path[:-1]
        return _replace(tree, parent, lambda g: _without(g, path[-1])), control_id(
            parent, "add-condition"
        )
    if not isinstance(target, Group) or size >= MAX_NODES:
        return tree, ""
    if verb == "grupo":
        if len(path) >= MAX_DEPTH or size + 2 > MAX_NODES:
            return tree, ""
        added: Node = Group("all", (empty_condition(),))
        focus_control = "combinator"
    else:
        added, focus_control = empty_condition(), "field"
    new_path = (*path, len(target.children))
    edited = _replace(tree, path, lambda g: Group(g.combinator, (*g.children, added)))
    return edited, control_id(new_path, focus_control)


def _find(node: Node, path: tuple[int, ...]) -> Node | None:
    for i in path:
        if not isinstance(node, Group) or i >= len(node.children):
            return None
        node = node.children[i]
    return node


def _without(group: Group, index: int) -> Group:
    return Group(group.combinator, group.children[:index] + group.children[index + 1 :])


def _replace(node: Group, path: tuple[int, ...], change) -> Group:
    if not path:
        return change(node)
    head, rest = path[0], path[1:]
    child = node.children[head]
    assert isinstance(child, Group)
    children = list(node.children)
    children[head] = _replace(child, rest, change)
    return Group(node.combinator, tuple(children))


def form_fields(form: SegmentForm) -> dict[str, str]:
    """The fields the builder's page posts for this state (what ``read_segment_form`` reads)."""
    fields = {"nodes": form.node_list(), "combinator": form.tree.combinator}
    for path, node in walk(form.tree):
        if not path:
            continue
        if isinstance(node, Group):
            fields[control_id(path, "combinator")] = node.combinator
        elif isinstance(node, Kept):
            fields[control_id(path, "raw")] = node.raw
        else:
            fields[control_id(path, "field")] = node.field
            fields[control_id(path, "op")] = node.op
            fields[control_id(path, "value")] = node.value
    return fields
