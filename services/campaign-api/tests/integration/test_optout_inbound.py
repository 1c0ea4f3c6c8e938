"""message.received → opt-out words and engagement, against real Postgres and NATS."""

from datetime import UTC, datetime

from disparo_campaign_api.testing import AUTH, api_client, observe, publish_event
from disparo_shared.events import MessageReceived, subjects
from disparo_shared.testing.fixtures import eventually

AT = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def _reply(phone: str, body: str, provider_id: str) -> MessageReceived:
    return MessageReceived(
        phone=phone, sender="sender-1", body=body, provider_message_id=provider_id, at=AT
    )


async def test_stop_words_opt_out_known_and_unknown_phones_and_publish(kernel_settings, db):
    async with (
        api_client(kernel_settings) as client,
        observe(kernel_settings, subjects.CONTACT_OPTED_OUT) as seen,
    ):
        known = (
            await client.post("/v1/contacts", json={"phone": "11987654321"}, headers=AUTH)
        ).json()
        stop = _reply("+5511987654321", "Não quero mais, obrigado!", "wamid.1")
        await publish_event(kernel_settings, stop)
        await publish_event(kernel_settings, _reply("+5521988887777", "PARAR", "wamid.2"))
        await publish_event(kernel_settings, stop)  # a redelivery changes nothing

        async def two_events():
            return len(seen.events) >= 2

        await eventually(two_events)
        assert {e["phone"] for e in seen.events} == {"+5511987654321", "+5521988887777"}
        assert seen.events[0]["reason"] == 'replied "nao quero mais"'

        contact = (await client.get(f"/v1/contacts/{known['id']}", headers=AUTH)).json()
        assert contact["opted_out"] is True
        assert contact["interactions"] == 1
        assert contact["last_contact_at"].startswith("2026-03-02T13:00")
        history = (await client.get(f"/v1/contacts/{known['id']}/consent", headers=AUTH)).json()
        assert [(h["source"], h["source_ref"]) for h in history] == [("inbound_message", "wamid.1")]

        created = await db.fetchrow(
            "SELECT opted_out_at, interactions FROM campaign_api.contacts"
            " WHERE phone = '+5521988887777'"
        )
        assert created["opted_out_at"] == AT
        assert created["interactions"] == 1


async def test_ordinary_reply_counts_an_interaction_and_does_not_opt_out(kernel_settings, db):
    async with api_client(kernel_settings) as client:
        known = (
            await client.post("/v1/contacts", json={"phone": "11987654321"}, headers=AUTH)
        ).json()
        await publish_event(
            kernel_settings,
            _reply("+5511987654321", "Não quero parar de receber plantões!", "wamid.3"),
        )
        await publish_event(kernel_settings, _reply("+5531999990000", "Oi, tudo bem?", "wamid.4"))

        async def touched():
            row = await db.fetchrow(
                "SELECT interactions, opted_out_at FROM campaign_api.contacts WHERE id = $1",
                known["id"],
            )
            return row if row["interactions"] == 1 else None

        row = await eventually(touched)
        assert row["opted_out_at"] is None
        # an unknown phone replying without a stop word creates nothing
        await eventually(lambda: _inbox_holds(db, 2))
        assert await db.fetchval("SELECT count(*) FROM campaign_api.contacts") == 1


async def _inbox_holds(db, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM campaign_api.inbox") >= n
