"""An erasure scrubs the doctor out of the outbox's dead letters and keeps everyone else's."""

import json
from uuid import uuid4

import asyncpg

from disparo_shared.dead_letter_erasure import forget_in_dead_letters, scrub_payload
from disparo_shared.migrations import migrate

DOCTOR = "+5511987650001"
OTHER = "+5511987650002"


def _batch(*phones: str) -> str:
    return json.dumps(
        {"event_id": str(uuid4()), "messages": [{"phone": p, "body": f"Olá {p}"} for p in phones]}
    )


def test_a_batch_loses_only_the_erased_doctors_entries():
    scrubbed = json.loads(scrub_payload(_batch(DOCTOR, OTHER), ["5511987650001"]))
    assert [m["phone"] for m in scrubbed["messages"]] == [OTHER]


def test_an_event_about_the_doctor_itself_is_dropped_whole():
    contact_id = uuid4()
    payload = json.dumps({"contact_id": str(contact_id), "phone": DOCTOR})
    assert scrub_payload(payload, [str(contact_id)]) is None


async def test_dead_letters_keep_no_trace_of_the_erased_doctor(database_url, tmp_path):
    await migrate(database_url, "dead_letters", tmp_path)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dead_letters"})
    contact_id = uuid4()
    about_the_doctor = json.dumps({"contact_id": str(contact_id), "kind": "opted_out"})
    try:
        for position, payload in enumerate(
            [_batch(DOCTOR, OTHER), _batch(OTHER), about_the_doctor, _batch(DOCTOR)], start=1
        ):
            await conn.execute(
                "INSERT INTO outbox_dead (id, event_id, subject, payload, headers, size_bytes,"
                " reason, created_at) VALUES ($1, $2, 's', $3, '{}', 0, 'too large', now())",
                position,
                uuid4(),
                payload,
            )
        async with conn.transaction():
            touched = await forget_in_dead_letters(conn, DOCTOR, contact_id)
        rows = await conn.fetch("SELECT id, payload, size_bytes FROM outbox_dead ORDER BY id")
    finally:
        await conn.close()
    assert touched == 3
    assert [r["id"] for r in rows] == [1, 2]  # the doctor's own events are gone
    assert all("5511987650001" not in r["payload"] for r in rows)
    assert all(str(contact_id) not in r["payload"] for r in rows)
    assert [m["phone"] for m in json.loads(rows[0]["payload"])["messages"]] == [OTHER]
    assert rows[0]["size_bytes"] == len(rows[0]["payload"].encode())
