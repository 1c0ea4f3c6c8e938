"""message.received and message.sent move a contact's last inbound, last outbound and last
contact (ours or theirs), which segments filter on, against real Postgres and NATS."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from disparo_campaign_api.testing import AUTH, api_client, publish_event
from disparo_shared.events import MessageKind, MessageReceived, MessageSent
from disparo_shared.testing.fixtures import eventually

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def _sent(contact_id: UUID | None, at: datetime) -> MessageSent:
    return MessageSent(
        message_id=uuid4(),
        contact_id=contact_id,
        kind=MessageKind.CAMPAIGN,
        provider_message_id=f"wamid.{uuid4().hex}",
        sender="sender-1",
        attempt=1,
        sent_at=at,
    )


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

        # a late event never moves an instant back
        await publish_event(kernel_settings, _sent(UUID(bruno["id"]), T0 - timedelta(days=3)))
        await publish_event(kernel_settings, _sent(UUID(ana["id"]), T0 + timedelta(hours=5)))

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
