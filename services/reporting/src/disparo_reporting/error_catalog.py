"""Provider and queue error codes explained in pt-BR, read once from ``data/error_catalog.csv``.

The table is data, so support can reword an explanation without touching code. A code not in
it falls back to its family: ``http_503`` → ``http_5xx``, ``http_422`` → ``http_4xx``, anything
else → ``unknown`` (the report still shows the code itself).
"""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOG_FILE = Path(__file__).parent / "data" / "error_catalog.csv"


@dataclass(frozen=True)
class ErrorExplanation:
    code: str
    error_class: str
    explanation: str
    action: str


@cache
def catalog() -> dict[str, ErrorExplanation]:
    with CATALOG_FILE.open(encoding="utf-8", newline="") as f:
        return {
            row["code"]: ErrorExplanation(
                row["code"], row["class"], row["explanation"], row["action"]
            )
            for row in csv.DictReader(f, delimiter=";")
        }


def _family(code: str) -> str:
    if code.startswith("http_") and code[5:].isdigit():
        return f"http_{code[5]}xx"
    return "unknown"


def explain(code: str) -> ErrorExplanation:
    """The entry of ``code``, else of its family; ``explain("http_503").explanation`` is the
    5xx text."""
    table = catalog()
    return table.get(code) or table.get(_family(code)) or table["unknown"]
