"""A campaign's messages as CSV, streamed in keyset pages so memory stays constant.

Each page is one short query (``message_id > last seen ORDER BY message_id LIMIT n``) on a
pooled connection, so a million-row export holds neither a million rows nor a connection for
the whole download. Phones leave only masked (``+5511*******21``).
"""

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_shared.privacy import mask_phone
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "reports.sql")

COLUMNS = (
    "message_id",
    "kind",
    "sender",
    "phone_masked",
    "state",
    "attempts",
    "requested_at",
    "enqueued_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "first_reply_at",
    "last_error_code",
    "dead",
)
_FIRST_KEY = UUID(int=0)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _render(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


async def campaign_messages_csv(
    pool: asyncpg.Pool, campaign_id: UUID, batch_size: int
) -> AsyncIterator[str]:
    """The header, then one chunk of CSV text per page of messages."""
    yield _render([list(COLUMNS)])
    after = _FIRST_KEY
    while True:
        rows = await pool.fetch(SQL.campaign_messages_page, campaign_id, after, batch_size)
        if not rows:
            return
        yield _render(
            [
                [
                    _cell(mask_phone(r["phone"]) if r["phone"] else None)
                    if column == "phone_masked"
                    else _cell(r[column])
                    for column in COLUMNS
                ]
                for r in rows
            ]
        )
        if len(rows) < batch_size:
            return
        after = rows[-1]["message_id"]
