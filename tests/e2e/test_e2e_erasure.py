"""LGPD erasure through the real processes: ``DELETE /v1/contacts/{id}`` and every service forgets.

A doctor gets a message (sent), writes back (a reply), and has one more message queued for
tomorrow; their data export (``disparo export-contact``: every service's own answer) holds all
of it; after the erasure the profile and consent history are gone from campaign-api, the
queued message is cancelled and every kept message has no phone or text in the dispatcher,
followup's conversations have no phone or name, and reporting keeps its counts without the
phone, the name or the reply's words. Each check reads the service's own tables.
"""

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from disparo.contact_export import export_contact
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

NAME = "Dra. Apagada Souza"
BODY = "Olá, Dra. Apagada! Temos um plantão amanhã."
REPLY = "Sim, tenho interesse no plantão"


async def send(stack, phone: str, body: str, **extra) -> str:
    answer = await stack.api.post(
        "/v1/messages",
        json={"phone": phone, "body": body, **extra},
        headers={"Idempotency-Key": f"erasure-{uuid.uuid4()}"},
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["message_id"]


async def _tables_holding(db: asyncpg.Connection, text: str) -> dict[str, int]:
    """Rows of every table of the four services whose text (any column) contains ``text``."""
    tables = await db.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type ="
        " 'BASE TABLE' AND table_schema IN ('campaign_api', 'dispatcher', 'followup', 'reporting')"
    )
    found = {}
    for t in tables:
        name = f'{t["table_schema"]}."{t["table_name"]}"'
        count = await db.fetchval(
            f"SELECT count(*) FROM {name} x WHERE strpos(x::text, $1) > 0", text
        )
        if count:
            found[name] = count
    return found


async def test_erasing_a_doctor_makes_every_service_forget_them(stack, phone: str) -> None:
    created = await stack.api.post("/v1/contacts", json={"phone": phone, "name": NAME})
    assert created.status_code in (200, 201), created.text
    contact_id = created.json()["id"]
    sent_id = await send(stack, phone, BODY)
    await stack.wait_sent(sent_id)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    queued_id = await send(stack, phone, "Lembrete para amanhã", not_before=tomorrow)
    sim_send = (await stack.sends_of(sent_id))[0]
    inbound = await stack.simulator.post(
        "/_sim/inbound",
        json={
            "dialect": sim_send["dialect"],
            "sender": sim_send["sender"],
            "from": phone.removeprefix("+"),
            "text": REPLY,
        },
    )
    assert inbound.status_code == 200, inbound.text

    db = await asyncpg.connect(stack.database_url)
    try:
        digits = phone.removeprefix("+")

        async def everyone_knows_the_doctor() -> bool:
            queued = await db.fetchval(
                "SELECT state FROM dispatcher.all_messages WHERE message_id = $1",
                uuid.UUID(queued_id),
            )
            conversation = await db.fetchval(
                "SELECT count(*) FROM followup.conversations WHERE phone = $1", phone
            )
            replies = await db.fetchval(
                "SELECT count(*) FROM reporting.replies WHERE phone = $1", phone
            )
            return queued == "queued" and conversation > 0 and replies > 0

        await eventually(everyone_knows_the_doctor, timeout=30.0)

        exported = await stack.api.get(f"/v1/contacts/{contact_id}/export")
        assert exported.status_code == 200, exported.text
        export = exported.json()
        assert export["profile"]["phone"] == phone and export["profile"]["name"] == NAME
        assert export["consent_history"] == []

        clients = {
            name: httpx.AsyncClient(
                base_url=stack.ports.url(name), headers={"X-API-Key": TEST_API_KEY}
            )
            for name in ("campaign-api", "dispatcher", "followup", "reporting")
        }
        try:
            everything = await export_contact(clients, uuid.UUID(contact_id))
        finally:
            for client in clients.values():
                await client.aclose()
        assert everything["campaign-api"]["profile"]["name"] == NAME
        queue_bodies = {m["message_id"]: m["body"] for m in everything["dispatcher"]["messages"]}
        assert queue_bodies[sent_id] == BODY and queued_id in queue_bodies
        assert everything["dispatcher"]["recipient"]["last_sent_at"] is not None
        assert everything["followup"]["conversations"] != []
        assert sent_id in {m["message_id"] for m in everything["reporting"]["messages"]}
        previews = [r["preview"] for r in everything["reporting"]["replies"]]
        assert previews and REPLY.startswith(previews[0].rstrip("…"))

        erased = await stack.api.delete(f"/v1/contacts/{contact_id}")
        assert erased.status_code == 200, erased.text
        again = await stack.api.delete(f"/v1/contacts/{contact_id}")
        assert again.status_code == 200 and again.json() == erased.json()
        assert (await stack.api.get(f"/v1/contacts/{contact_id}")).status_code == 404
        assert (await stack.api.get(f"/v1/contacts/{contact_id}/export")).status_code == 404

        async def dispatcher_forgot() -> bool:
            rows = await db.fetch(
                "SELECT message_id, state, phone, body FROM dispatcher.all_messages"
                " WHERE message_id = ANY($1::uuid[])",
                [uuid.UUID(sent_id), uuid.UUID(queued_id)],
            )
            states = {str(r["message_id"]): r["state"] for r in rows}
            blank = all(r["phone"] == "" and r["body"] == "" for r in rows)
            return len(rows) == 2 and blank and states[queued_id] == "cancelled"

        async def followup_forgot() -> bool:
            return (
                await db.fetchval(
                    "SELECT count(*) FROM followup.conversations"
                    " WHERE contact_id = $1::uuid"
                    " AND (phone IS NOT NULL OR contact_name IS NOT NULL)",
                    uuid.UUID(contact_id),
                )
                == 0
                and await db.fetchval(
                    "SELECT count(*) FROM followup.conversations WHERE phone = $1", phone
                )
                == 0
            )

        async def reporting_forgot() -> bool:
            kept = await db.fetchrow(
                "SELECT phone, contact_name, state FROM reporting.messages WHERE message_id = $1",
                uuid.UUID(sent_id),
            )
            replies = await db.fetch(
                "SELECT phone, preview, message_id FROM reporting.replies"
                " WHERE message_id = $1::uuid",
                uuid.UUID(sent_id),
            )
            return (
                kept is not None
                and kept["phone"].startswith("erased:")
                and kept["contact_name"] is None
                and kept["state"] in ("sent", "delivered", "read")
                and len(replies) == 1  # the reply still counts, attributed to the message
                and replies[0]["phone"] == kept["phone"]  # one pseudonym for the doctor
                and replies[0]["preview"] is None
            )

        await eventually(dispatcher_forgot, timeout=30.0)
        await eventually(followup_forgot, timeout=30.0)
        await eventually(reporting_forgot, timeout=30.0)

        assert (
            await db.fetchval("SELECT count(*) FROM campaign_api.contacts WHERE phone = $1", phone)
            == 0
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM campaign_api.opt_outs WHERE contact_id = $1::uuid",
                uuid.UUID(contact_id),
            )
            == 0
        )
        assert (
            await db.fetchval("SELECT count(*) FROM dispatcher.recipients WHERE phone = $1", phone)
            == 0
        )
        assert (
            await db.fetchval("SELECT count(*) FROM reporting.consent WHERE phone = $1", phone) == 0
        )
        for schema_table, column in (
            ("dispatcher.messages", "phone"),
            ("dispatcher.messages_archive", "phone"),
            ("reporting.messages", "phone"),
            ("reporting.replies", "phone"),
            ("followup.conversations", "phone"),
            ("followup.phones", "phone"),
        ):
            found = await db.fetchval(
                f"SELECT count(*) FROM {schema_table} WHERE {column} IN ($1, $2)", phone, digits
            )
            assert found == 0, f"{schema_table} still holds the erased phone"
        for text in (digits, NAME, BODY, REPLY):
            assert await _tables_holding(db, text) == {}, f"{text!r} survived the erasure"
    finally:
        await db.close()
    assert len(await stack.sends_of(queued_id)) == 0
