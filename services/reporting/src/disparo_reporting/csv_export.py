"""A campaign's recipients as CSV for a recruiting team, streamed in keyset pages.

One row per doctor (the campaign's original message to them; follow-ups are counted in their
row, not listed), with whether and when they first answered and after which message: the
campaign's ("mensagem da campanha") or a follow-up ("follow-up 2").

The spec's columns, in pt-BR, ``;``-separated so Excel in pt-BR splits them (it reads ``,`` as the
decimal mark), optionally behind a UTF-8 BOM so it also reads "região" right. Times are local
(America/Sao_Paulo by default) as ``dd/mm/aaaa hh:mm``. Each page is one short query
(``message_id > last seen ORDER BY message_id LIMIT n``) on a pooled connection, so a
million-row export holds neither a million rows nor a connection for the whole download.
Phones leave in clear only for a caller allowed to see them, masked otherwise
(``+5511*******21``).
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from disparo_shared.privacy import mask_phone
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "reports.sql")

COLUMNS = (
    "nome",
    "telefone",
    "especialidade",
    "região",
    "status de envio",
    "respondeu",
    "primeira resposta em",
    "respondeu após",
    "follow-ups enviados",
    "id da mensagem",
)
SEND_STATUS = {
    "requested": "Na fila",
    "enqueued": "Na fila",
    "retrying": "Nova tentativa agendada",
    "cancelled": "Cancelada (não enviada)",
    "sent": "Enviada (aguardando confirmação do WhatsApp)",
    "delivered": "Entregue",
    "read": "Lida",
    "dead": "Falhou",
}
"""pt-BR words of each message state; *sent* is never called "Entregue"."""
ORIGINAL_MESSAGE = "mensagem da campanha"


def replied_after(attempt: int | None) -> str:
    """pt-BR name of the message a first reply came after: 0 the original, n follow-up n."""
    if attempt is None:
        return ""
    return f"follow-up {attempt}" if attempt else ORIGINAL_MESSAGE


BOM = "\ufeff"
_FIRST_KEY = UUID(int=0)


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%d/%m/%Y %H:%M") if at else ""


def _row(r: asyncpg.Record, reveal_phones: bool, zone: ZoneInfo) -> list[str]:
    phone = r["phone"] or ""
    replied = r["first_reply_at"] is not None
    return [
        r["contact_name"] or "",
        phone if reveal_phones else mask_phone(phone),
        r["specialty"] or "",
        r["region"] or "",
        SEND_STATUS.get(r["state"], r["state"]),
        "Sim" if replied else "Não",
        _local(r["first_reply_at"], zone),
        replied_after(r["replied_after_attempt"]) if replied else "",
        str(r["followups_sent"]),
        str(r["message_id"]),
    ]


def _render(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def campaign_recipients_csv(
    pool: asyncpg.Pool,
    campaign_id: UUID,
    batch_size: int,
    *,
    reveal_phones: bool,
    time_zone: str,
    bom: bool,
) -> AsyncIterator[str]:
    """The header (after a BOM when asked), then one chunk of CSV text per page of messages."""
    zone = ZoneInfo(time_zone)
    yield (BOM if bom else "") + _render([list(COLUMNS)])
    after = _FIRST_KEY
    while True:
        rows = await pool.fetch(SQL.campaign_messages_page, campaign_id, after, batch_size)
        if not rows:
            return
        yield _render([_row(r, reveal_phones, zone) for r in rows])
        if len(rows) < batch_size:
            return
        after = rows[-1]["message_id"]
