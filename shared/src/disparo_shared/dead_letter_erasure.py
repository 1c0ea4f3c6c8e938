"""An erased doctor leaves the outbox's dead letters too (``outbox_dead``, events NATS refused).

A dead letter keeps a whole event for an operator to replay, and a large one is typically a batch
(``messages.requested`` of a campaign: thousands of doctors, phones and texts). On erasure each
service drops from its dead letters every list entry that names the doctor (phone digits or
contact id) and keeps the rest, so the other doctors can still be replayed; an event that still
names the doctor after that (the doctor is not in a list, but the event itself) is deleted.
Example: a dead ``messages.requested`` of 3 messages, one to the erased phone, keeps 2.
"""

import json
from typing import Any
from uuid import UUID

import asyncpg

from disparo_shared.logging import get_logger

log = get_logger(__name__)


def doctor_marks(phone: str, contact_id: UUID | None) -> list[str]:
    """What names the doctor in an event's text: the phone's digits and the contact id."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return [mark for mark in (digits, str(contact_id) if contact_id else "") if mark]


def _names(value: Any, marks: list[str]) -> bool:
    text = json.dumps(value, ensure_ascii=False)
    return any(mark in text for mark in marks)


class _OnlyTheDoctor(Exception):
    """A list held nothing but the doctor's entries: the event is theirs alone."""


def _without_doctor(value: Any, marks: list[str]) -> Any:
    if isinstance(value, list):
        kept = [_without_doctor(v, marks) for v in value if not _names(v, marks)]
        if value and not kept:
            raise _OnlyTheDoctor
        return kept
    if isinstance(value, dict):
        return {k: _without_doctor(v, marks) for k, v in value.items()}
    return value


def scrub_payload(payload: str, marks: list[str]) -> str | None:
    """``payload`` without the doctor's list entries, or None when the event is theirs alone
    (it still names them, or a list of it held only them)."""
    try:
        scrubbed = _without_doctor(json.loads(payload), marks)
    except _OnlyTheDoctor:
        return None
    return None if _names(scrubbed, marks) else json.dumps(scrubbed, ensure_ascii=False)


async def forget_in_dead_letters(
    conn: asyncpg.Connection, phone: str, contact_id: UUID | None
) -> int:
    """Scrub the doctor from this service's ``outbox_dead`` (caller's transaction); returns how
    many dead letters were changed or deleted."""
    marks = doctor_marks(phone, contact_id)
    rows = await conn.fetch(
        "SELECT id, payload FROM outbox_dead d WHERE EXISTS ("
        " SELECT 1 FROM unnest($1::text[]) AS m (mark) WHERE strpos(d.payload, m.mark) > 0)"
        " FOR UPDATE",
        marks,
    )
    kept_ids, kept_payloads, deleted = [], [], []
    for row in rows:
        scrubbed = scrub_payload(row["payload"], marks)
        if scrubbed is None:
            deleted.append(row["id"])
        else:
            kept_ids.append(row["id"])
            kept_payloads.append(scrubbed)
    await conn.execute(
        "UPDATE outbox_dead d SET payload = s.payload, size_bytes = octet_length(s.payload)"
        " FROM unnest($1::bigint[], $2::text[]) AS s (id, payload) WHERE d.id = s.id",
        kept_ids,
        kept_payloads,
    )
    await conn.execute("DELETE FROM outbox_dead WHERE id = ANY($1::bigint[])", deleted)
    if rows:
        log.warning(
            "erased doctor scrubbed from dead letters", scrubbed=len(kept_ids), deleted=len(deleted)
        )
    return len(rows)
