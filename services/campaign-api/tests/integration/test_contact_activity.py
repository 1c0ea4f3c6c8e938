"""message.received and message.sent move a contact's last inbound, last outbound and last
contact (ours or theirs), which segments filter on, against real Postgres and NATS."""

import asyncio
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from disparo_campaign_api.contacts.bulk_import import CsvContacts, import_contacts, parse_stream
from disparo_campaign_api.contacts.outbound_messages import handle_message_sent
from disparo_campaign_api.spec import SPEC
from disparo_campaign_api.testing import AUTH, api_client, publish_event, sent_message
from disparo_shared.db import create_pool
from disparo_shared.events import MessageReceived, MessagesSent
from disparo_shared.testing.fixtures import eventually

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def _sent(contact_id: UUID | None, at: datetime) -> MessagesSent:
    return MessagesSent(messages=[sent_message(uuid4(), at, contact_id=contact_id)])


def _received(phone: str, at: datetime) -> MessageReceived:
    return MessageReceived(
        phone=phone, sender="sender-1", body="Oi!", provider_message_id=f"wamid.{at}", at=at
    )


async def _times(db, contact_id) -> tuple:
    row = await db.fetchrow(
        "SELECT last_inbound_at, last_outbound_at, last_contact_at, interactions"
        " FROM campaign_api.contacts WHERE id = $1",
        contact_id,
    )
    return tuple(row)


async def _count(client, condition: dict) -> int:
    answer = await client.post("/v1/segments/preview", headers=AUTH, json={"filter": condition})
    assert answer.status_code == 200, answer.text
    return answer.json()["count"]


async def test_last_contact_is_ours_or_theirs_and_each_direction_is_kept(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        ana = (
            await client.post("/v1/contacts", json={"phone": "11987654321"}, headers=AUTH)
        ).json()
        bruno = (
            await client.post("/v1/contacts", json={"phone": "21988887777"}, headers=AUTH)
        ).json()
        assert (ana["last_inbound_at"], ana["last_outbound_at"]) == (None, None)

        await publish_event(kernel_settings, _sent(UUID(ana["id"]), T0))
        await publish_event(kernel_settings, _received("+5511987654321", T0 + timedelta(hours=2)))
        await publish_event(kernel_settings, _sent(UUID(bruno["id"]), T0 + timedelta(hours=1)))
        await publish_event(kernel_settings, _sent(None, T0))  # a phone with no contact

        async def both_moved():
            a, b = await _times(db, ana["id"]), await _times(db, bruno["id"])
            return a[0] is not None and a[1] is not None and b[1] is not None

        await eventually(both_moved)
        assert await _times(db, ana["id"]) == (
            T0 + timedelta(hours=2),
            T0,
            T0 + timedelta(hours=2),
            1,
        )
        assert await _times(db, bruno["id"]) == (
            None,
            T0 + timedelta(hours=1),
            T0 + timedelta(hours=1),
            0,  # our messages are not engagement
        )

        # one batch: a late send never moves an instant back, a later one in it still moves
        late_and_new = MessagesSent(
            messages=[
                sent_message(uuid4(), T0 - timedelta(days=3), contact_id=bruno["id"]),
                sent_message(uuid4(), T0 + timedelta(hours=5), contact_id=ana["id"]),
            ]
        )
        await publish_event(kernel_settings, late_and_new)

        async def ana_written_again():
            return (await _times(db, ana["id"]))[1] == T0 + timedelta(hours=5)

        await eventually(ana_written_again)
        assert (await _times(db, ana["id"]))[2] == T0 + timedelta(hours=5)
        assert (await _times(db, bruno["id"]))[1] == T0 + timedelta(hours=1)

        shown = (await client.get(f"/v1/contacts/{ana['id']}", headers=AUTH)).json()
        assert shown["last_outbound_at"].startswith("2026-03-02T18:00")
        assert shown["last_inbound_at"].startswith("2026-03-02T15:00")

        after = T0 + timedelta(hours=1, minutes=30)
        replied = {"field": "last_inbound_at", "op": "after", "value": after.isoformat()}
        assert await _count(client, replied) == 1
        never_replied = {"field": "last_inbound_at", "op": "exists", "value": False}
        assert await _count(client, never_replied) == 1
        written = {"field": "last_outbound_at", "op": "before", "value": after.isoformat()}
        assert await _count(client, written) == 1  # Bruno (1 h); Ana was written at 5 h


async def test_inactive_30d_leaves_out_a_doctor_written_to_yesterday_and_a_new_one(
    kernel_settings, db
):
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO campaign_api.contacts (phone, name, created_at, last_contact_at,"
        " last_inbound_at, last_outbound_at) VALUES"
        " ('+5511900000001', 'silent', $1, $2, $2, NULL),"  # replied 40 days ago only
        " ('+5511900000002', 'written', $1, $3, $2, $3),"  # replied 40 d ago, written yesterday
        " ('+5511900000003', 'never, old', $1, NULL, NULL, NULL),"
        " ('+5511900000004', 'never, new', $3, NULL, NULL, NULL)",
        now - timedelta(days=90),
        now - timedelta(days=40),
        now - timedelta(days=1),
    )
    async with api_client(kernel_settings) as client:
        answer = await client.post(
            "/v1/segments/preview", headers=AUTH, json={"segment_id": "predefined:inactive_30d"}
        )
        assert answer.json()["count"] == 2  # 'silent' and 'never, old'
        new = await client.post(
            "/v1/segments/preview", headers=AUTH, json={"segment_id": "predefined:new_7d"}
        )
        assert new.json()["count"] == 1  # 'never, new'


async def test_a_batch_moves_each_contact_to_its_latest_send_once(kernel_settings, db):
    ana, bruno, carla = await db.fetch(
        "INSERT INTO campaign_api.contacts (phone, last_inbound_at, last_contact_at,"
        " last_outbound_at) VALUES ('+5511900000001', $1, $1, NULL),"
        " ('+5511900000002', NULL, $2, $2), ('+5511900000003', NULL, NULL, NULL)"
        " RETURNING id",
        T0 + timedelta(hours=3),  # Ana replied after two of the sends below
        T0 + timedelta(hours=2),  # Bruno was written to after the send below
    )
    batch = MessagesSent(
        messages=[
            sent_message(uuid4(), T0 + timedelta(hours=1), contact_id=ana["id"]),
            sent_message(uuid4(), T0 + timedelta(hours=4), contact_id=ana["id"]),
            sent_message(uuid4(), T0 + timedelta(hours=1), contact_id=bruno["id"]),
            sent_message(uuid4(), T0 + timedelta(hours=2), contact_id=ana["id"]),
            sent_message(uuid4(), T0, contact_id=carla["id"]),
            sent_message(uuid4(), T0 + timedelta(days=1)),  # a phone with no contact
        ]
    )

    async def rows() -> list[tuple]:
        found = await db.fetch(
            "SELECT xmin::text, last_inbound_at, last_outbound_at, last_contact_at"
            " FROM campaign_api.contacts ORDER BY phone"
        )
        return [tuple(r) for r in found]

    pool = await create_pool(kernel_settings.database, SPEC.schema)
    try:
        untouched_bruno = (await rows())[1]
        await handle_message_sent(pool, batch)
        applied = await rows()
        await handle_message_sent(pool, batch)  # redelivered
        assert await rows() == applied  # not even rewritten (xmin)
    finally:
        await pool.close()
    four, three = T0 + timedelta(hours=4), T0 + timedelta(hours=3)
    assert applied[0][1:] == (three, four, four)
    assert applied[1] == untouched_bruno
    assert applied[2][1:] == (None, T0, T0)


async def test_sent_batches_and_an_import_of_the_same_doctors_never_deadlock(kernel_settings, db):
    """The import locks contacts in phone order; a batch of sends must too, or the two, each
    holding some of the other's rows, deadlock (and one of them fails)."""
    phones = [f"+55119{n:08d}" for n in range(1, 3001)]
    ids = [
        r["id"]
        for r in await db.fetch(
            "INSERT INTO campaign_api.contacts (phone) SELECT unnest($1::text[]) RETURNING id",
            phones,
        )
    ]
    rng = random.Random(7)
    pool = await create_pool(kernel_settings.database, SPEC.schema)

    async def renaming(round_: int):
        yield b"phone,name\n" + "".join(f"{p},Dra. {round_}\n" for p in phones).encode()

    try:
        for round_ in range(10):
            at = T0 + timedelta(minutes=round_)
            sends = [
                MessagesSent(messages=[sent_message(uuid4(), at, contact_id=c) for c in chosen])
                for chosen in (rng.sample(ids, 1000) for _ in range(3))
            ]
            imported, *_ = await asyncio.gather(
                import_contacts(
                    pool,
                    parse_stream(renaming(round_), CsvContacts(10_000)),
                    batch_size=3000,
                    max_listed_errors=10,
                    at=at,
                ),
                *(handle_message_sent(pool, event) for event in sends),
            )
            assert imported.updated == 3000
    finally:
        await pool.close()
