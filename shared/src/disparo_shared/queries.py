"""Named SQL queries loaded once from ``.sql`` files.

A file holds blocks introduced by ``-- name: claim_due_messages`` followed by a one-line comment
and the statement. ``load_queries(path).claim_due_messages`` is the statement's text, used with
asyncpg's positional ``$1::uuid`` parameters.
"""

import re
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries:
    """Read-only attribute access to the statements of one ``.sql`` file."""

    def __init__(self, statements: dict[str, str]) -> None:
        self._statements = statements

    def __getattr__(self, name: str) -> str:
        try:
            return self._statements[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._statements)


def parse_queries(text: str) -> Queries:
    statements: dict[str, str] = {}
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise ValueError(f"query {name!r} is defined twice")
        statement = "\n".join(
            line for line in body.strip().splitlines() if not line.lstrip().startswith("--")
        ).strip()
        statements[name] = statement.rstrip(";")
    return Queries(statements)


def load_queries(path: Path) -> Queries:
    return parse_queries(path.read_text(encoding="utf-8"))
