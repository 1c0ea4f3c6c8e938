"""The segment builder's form, read into campaign-api's filter language (pure, no I/O).

The form has a combinator (``all`` = every condition, ``any`` = at least one) and numbered
condition rows ``cond-0-field`` / ``cond-0-op`` / ``cond-0-value``. Rows with an empty value
are left out, so a half-typed row never breaks the live count. Example: specialty = Pediatria
and "last contact before 30 days ago" become::

    {"all": [{"field": "specialty", "op": "eq", "value": "Pediatria"},
             {"field": "last_contact_at", "op": "before", "value": {"days_ago": 30}}]}
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# field -> operators the builder offers; the labels are in the catalogue (segment.field.*).
FIELDS: dict[str, tuple[str, ...]] = {
    "specialty": ("eq", "neq"),
    "region": ("eq", "neq"),
    "status": ("eq", "neq"),
    "tags": ("any", "all", "none"),
    "interactions": ("gte", "lte", "eq"),
    "last_contact_at": ("before", "after"),
}
LIST_FIELDS = {"tags"}
NUMBER_FIELDS = {"interactions"}
DAYS_AGO_FIELDS = {"last_contact_at"}
DEFAULT_ROWS = 2
MAX_ROWS = 12


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class SegmentForm:
    combinator: str = "all"
    rows: tuple[Condition, ...] = ()
    segment_id: str = ""
    max_per_day: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def filter(self) -> dict[str, Any]:
        """The filter of the filled rows; with none filled, ``{"all": []}`` (every doctor)."""
        conditions = [c for c in (_condition(r) for r in self.rows) if c is not None]
        return {self.combinator: conditions} if conditions else {"all": []}

    def max_per_day_value(self) -> int | None:
        return (
            int(self.max_per_day)
            if self.max_per_day.isdigit() and int(self.max_per_day) > 0
            else None
        )


def _condition(row: Condition) -> dict[str, Any] | None:
    value = row.value.strip()
    if not value or row.field not in FIELDS or row.op not in FIELDS[row.field]:
        return None
    if row.field in LIST_FIELDS:
        items = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        return {"field": row.field, "op": row.op, "value": items} if items else None
    if row.field in NUMBER_FIELDS | DAYS_AGO_FIELDS:
        if not value.isdigit():
            return None
        number = int(value)
        rendered: Any = {"days_ago": number} if row.field in DAYS_AGO_FIELDS else number
        return {"field": row.field, "op": row.op, "value": rendered}
    return {"field": row.field, "op": row.op, "value": value}


def read_segment_form(form: Mapping[str, str], add_row: bool = False) -> SegmentForm:
    """The builder's state from posted fields; ``add_row`` appends an empty row."""
    count = min(int(form.get("rows", DEFAULT_ROWS) or DEFAULT_ROWS), MAX_ROWS)
    rows = []
    errors = {}
    for i in range(count):
        field_name = form.get(f"cond-{i}-field", "specialty")
        field_name = field_name if field_name in FIELDS else "specialty"
        op = form.get(f"cond-{i}-op", FIELDS[field_name][0])
        op = op if op in FIELDS[field_name] else FIELDS[field_name][0]
        value = form.get(f"cond-{i}-value", "")
        if (
            value.strip()
            and field_name in NUMBER_FIELDS | DAYS_AGO_FIELDS
            and not value.strip().isdigit()
        ):
            errors[f"cond-{i}-value"] = "segment.error.number"
        rows.append(Condition(field_name, op, value))
    if add_row and len(rows) < MAX_ROWS:
        rows.append(Condition("specialty", "eq", ""))
    if not rows:
        rows = [Condition("specialty", "eq", "") for _ in range(DEFAULT_ROWS)]
    combinator = form.get("combinator", "all")
    return SegmentForm(
        combinator=combinator if combinator in ("all", "any") else "all",
        rows=tuple(rows),
        segment_id=form.get("segment_id", ""),
        max_per_day=form.get("max_per_day", "").strip(),
        errors=errors,
    )
