"""A message requested before a doctor's erasure but reaching the queue after it is never sent.

``messages.requested`` and ``contact.erased`` travel on different streams, so the dispatcher
can learn of the erasure first. Its tombstone (``erased_contacts``: contact id, the phone's
digest, when) makes intake cancel such a message (``contact_erased``, announced final) and keep
neither its phone nor its text. A doctor imported again after the erasure is a new contact id
and is written to as usual; so is a message without a contact id requested after the erasure.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from dispatcher_harness import (
    collect,
    dispatcher,
    evolution_sender,
    message,
    phone,
    publish,
    simulator,
)

from disparo_shared.events import ContactErased, MessagesRequested, subjects
from disparo_shared.phone_digests import phone_digest
from disparo_shared.testing.fixtures import eventually


async def _erase(kernel_settings, db, contact_id, doctor: str, at: datetime) -> None:
    await publish(
        kernel_settings.nats, ContactErased(contact_id=contact_id, phone=doctor, occurred_at=at)
    )

    async def remembered() -> bool:
        return (
            await db.fetchval(
                "SELECT count(*) FROM dispatcher.erased_contacts WHERE contact_id = $1", contact_id
            )
            == 1
        )

    await eventually(remembered)


async def _rows_holding(db, text: str) -> dict[str, int]:
    """Rows of every dispatcher table whose text (any column) contains ``text``."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'dispatcher' AND table_type = 'BASE TABLE'"
    )
    found = {}
    for t in tables:
        n = await db.fetchval(
            f'SELECT count(*) FROM dispatcher."{t["table_name"]}" x WHERE strpos(x::text, $1) > 0',
            text,
        )
        if n:
            found[t["table_name"]] = n
    return found


async def test_a_message_requested_before_the_erasure_and_queued_after_is_never_sent(
    kernel_settings, db
):
    doctor, colleague = phone(900), phone(901)
    contact_id, campaign = uuid4(), uuid4()
    requested_at = datetime.now(UTC) - timedelta(minutes=1)
    erased_at = requested_at + timedelta(seconds=30)
    by_contact = message(doctor, "Olá, Dra. Apagada!", contact_id=contact_id, campaign_id=campaign)
    by_phone = message(doctor, "Oi, tudo bem?", kind="reply")  # no contact id: known by phone
    other = message(colleague, contact_id=uuid4(), campaign_id=campaign)
    late = MessagesRequested(messages=[by_contact, by_phone, other], occurred_at=requested_at)
    async with simulator() as sim:
        async with dispatcher(kernel_settings, [evolution_sender(sim, "sim-1")]):
            # an event NATS refused earlier, naming the doctor among others, waits for an operator
            await db.execute(
                "INSERT INTO dispatcher.outbox_dead (id, event_id, subject, payload, headers,"
                " size_bytes, reason, created_at) VALUES (1, $1, 'messages.requested', $2, '{}',"
                " 0, 'too large', now())",
                uuid4(),
                late.model_dump_json(),
            )
            async with collect(kernel_settings.nats, subjects.MESSAGE_FAILED) as failed:
                await _erase(kernel_settings, db, contact_id, doctor, erased_at)
                await publish(kernel_settings.nats, late)

                async def settled() -> bool:
                    sent = await db.fetchval(
                        "SELECT state FROM dispatcher.all_messages WHERE message_id = $1",
                        other.message_id,
                    )
                    return sent == "sent" and len(failed) == 2

                await eventually(settled)
            rows = {
                r["message_id"]: r
                for r in await db.fetch(
                    "SELECT message_id, state, last_error_code, phone, body, contact_id"
                    " FROM dispatcher.all_messages WHERE message_id = ANY($1::uuid[])",
                    [by_contact.message_id, by_phone.message_id],
                )
            }
            leftovers = await _rows_holding(db, doctor.lstrip("+"))
            tombstone = await db.fetchval(
                "SELECT phone_digest FROM dispatcher.erased_contacts WHERE contact_id = $1",
                contact_id,
            )
    assert [s.recipient for s in sim.sends()] == [colleague.lstrip("+")]
    for m in (by_contact, by_phone):
        row = rows[m.message_id]
        assert (row["state"], row["last_error_code"]) == ("cancelled", "contact_erased")
        assert (row["phone"], row["body"]) == ("", "")
    assert rows[by_contact.message_id]["contact_id"] == contact_id  # counts still add up
    assert leftovers == {}  # no phone in any dispatcher table, dead letters included
    dead = await db.fetchval("SELECT payload FROM dispatcher.outbox_dead")
    assert colleague.lstrip("+") in dead  # the other doctor can still be replayed
    # The tombstone is keyed: hashing every mobile number does not find the doctor again.
    assert tombstone != hashlib.sha256(doctor.encode()).digest()
    assert tombstone == phone_digest(kernel_settings.database.phone_digest_key, doctor)
    assert {(f["message_id"], f["error_code"], f["final"]) for f in failed} == {
        (str(by_contact.message_id), "contact_erased", True),
        (str(by_phone.message_id), "contact_erased", True),
    }


async def test_a_doctor_imported_again_after_the_erasure_is_written_to(kernel_settings, db):
    doctor = phone(902)
    erased_contact, new_contact = uuid4(), uuid4()
    erased_at = datetime.now(UTC) - timedelta(minutes=1)
    as_new_contact = message(doctor, "Bem-vinda de volta!", contact_id=new_contact)
    by_phone_after = message(doctor, "Oi de novo!", kind="reply")
    by_phone_before = message(doctor, "Mensagem antiga", kind="reply")
    async with simulator() as sim:
        async with dispatcher(
            kernel_settings, [evolution_sender(sim, "sim-1")], pair_spacing_seconds=0.0
        ):
            await _erase(kernel_settings, db, erased_contact, doctor, erased_at)
            await publish(
                kernel_settings.nats,
                MessagesRequested(
                    messages=[by_phone_before], occurred_at=erased_at - timedelta(seconds=1)
                ),
                MessagesRequested(messages=[as_new_contact, by_phone_after]),
            )

            async def settled() -> bool:
                rows = await db.fetch("SELECT state FROM dispatcher.all_messages")
                return sorted(r["state"] for r in rows) == ["cancelled", "sent", "sent"]

            await eventually(settled)
            cancelled = await db.fetchval(
                "SELECT message_id FROM dispatcher.all_messages WHERE state = 'cancelled'"
            )
    assert cancelled == by_phone_before.message_id
    assert sorted(s.body for s in sim.sends()) == ["Bem-vinda de volta!", "Oi de novo!"]
