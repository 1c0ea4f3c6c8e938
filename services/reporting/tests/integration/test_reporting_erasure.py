"""reporting forgets an erased doctor, keeps the counts, and a rebuild does not bring them back;
its part of the doctor's data export shows what it held, and nothing after the erasure."""

from datetime import timedelta
from uuid import uuid4

from litestar.testing import AsyncTestClient
from test_reporting_api import (  # the API tests' fixtures and event builders
    PHONES_KEY,
    T0,
    Publish,
    client,  # noqa: F401
    publish,  # noqa: F401
    requested,
    sent,
    wait_for_json,
)

from disparo_shared.events import CampaignStarted, ContactErased, MessageReceived
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

PHONE = "+5511987650042"
PHONES = {"X-API-Key": PHONES_KEY}  # the export shows phones and texts: contacts:phones


async def test_an_erased_doctor_is_forgotten_even_after_a_rebuild(
    client: AsyncTestClient,  # noqa: F811 (the fixture imported above)
    publish: Publish,  # noqa: F811
    db,
) -> None:
    campaign_id, message_id = uuid4(), uuid4()
    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=1, occurred_at=T0))
    await publish(requested(message_id, PHONE, campaign_id, contact_name="Dra. Apagada"))
    await publish(sent(message_id, T0 + timedelta(minutes=1), campaign_id))
    at = T0 + timedelta(minutes=5)
    await publish(
        MessageReceived(
            phone=PHONE, sender="sender-1", body="Sim, tenho interesse",
            provider_message_id="wamid.in-1", at=at, occurred_at=at,
        )
    )  # fmt: skip
    before = await wait_for_json(
        client,
        f"/v1/campaigns/{campaign_id}/report",
        lambda b: b["funnel"]["sent"] == 1 and b["funnel"]["replied"] == 1,
    )

    async def person_known() -> bool:
        return await db.fetchval(
            "SELECT count(*) FROM reporting.replies WHERE phone = $1 AND preview IS NOT NULL", PHONE
        ) == 1  # fmt: skip

    await eventually(person_known)
    contact_id = uuid4()
    question = {"contact_id": str(contact_id), "phone": "(11) 98765-0042"}  # any usual writing
    denied = await client.post("/v1/contacts/export", json=question)  # reports:read only
    assert denied.status_code == 403
    answer = await client.post("/v1/contacts/export", json=question, headers=PHONES)
    assert answer.status_code == 200, answer.text
    held = answer.json()
    assert [m["contact_name"] for m in held["messages"]] == ["Dra. Apagada"]
    assert [r["preview"] for r in held["replies"]] == ["Sim, tenho interesse"]
    bad = await client.post(
        "/v1/contacts/export", json={**question, "phone": "abc"}, headers=PHONES
    )
    assert bad.status_code == 422 and "phone" in bad.json()["detail"]

    await publish(ContactErased(contact_id=contact_id, phone=PHONE, occurred_at=at))

    async def person_forgotten() -> bool:
        messages = await db.fetchval(
            "SELECT count(*) FROM reporting.messages WHERE phone NOT LIKE 'erased:%'"
            " OR contact_name IS NOT NULL"
        )
        replies = await db.fetchval(
            "SELECT count(*) FROM reporting.replies"
            " WHERE phone NOT LIKE 'erased:%' OR preview IS NOT NULL"
        )
        return messages == 0 and replies == 0

    await eventually(person_forgotten)
    late_at = T0 + timedelta(minutes=3)  # said before the erasure, arriving after it
    await publish(
        MessageReceived(
            phone=PHONE, sender="sender-1", body="Ainda estou aqui",
            provider_message_id="wamid.in-2", at=late_at, occurred_at=late_at,
        )
    )  # fmt: skip

    async def late_reply_projected() -> bool:
        return await db.fetchval("SELECT count(*) FROM reporting.replies") == 2

    await eventually(late_reply_projected)
    assert await person_forgotten()
    after = (await client.get(f"/v1/campaigns/{campaign_id}/report")).json()
    assert after["funnel"] == before["funnel"]  # counts stay
    held = (await client.post("/v1/contacts/export", json=question, headers=PHONES)).json()
    assert held == {"messages": [], "replies": [], "consent": None}  # nothing left of the doctor
    (responder,) = after["top_responders"]  # still one doctor who answered, now no one
    assert responder["phone"].startswith("erased:") and responder["name"] is None
    assert responder["first_words"] is None

    response = await client.post("/v1/admin/rebuild", headers={"X-API-Key": TEST_API_KEY})
    assert response.status_code == 200
    assert await person_forgotten()
    rebuilt = (await client.get(f"/v1/campaigns/{campaign_id}/report")).json()
    assert rebuilt["funnel"] == before["funnel"]
