"""A campaign's follow-up breakdown and the CSV's "respondeu após", through the events: which
follow-ups went out, after which message each doctor answered, and what stopped the others."""

import csv
import io
from datetime import timedelta
from uuid import UUID, uuid4

from litestar.testing import AsyncTestClient
from test_reporting_api import (  # noqa: F401 (fixtures)
    T0,
    Publish,
    client,
    publish,
    sent,
    sent_message,
    wait_for_json,
)

from disparo_shared.events import (
    CampaignStarted,
    ContactOptedOut,
    Controller,
    ConversationControlChanged,
    ConversationStage,
    MessageCancelled,
    MessageKind,
    MessageReceived,
    MessagesRequested,
    MessagesSent,
    RequestedMessage,
    campaign_conversation_id,
)

DAY = timedelta(days=1)


def phone(i: int) -> str:
    return f"+55119876510{i:02d}"


async def test_the_report_breaks_followups_down_by_attempt_answer_and_stop(
    client: AsyncTestClient,  # noqa: F811 (the fixture imported above)
    publish: Publish,  # noqa: F811
) -> None:
    campaign_id = uuid4()
    doctors = range(6)  # 0 answers; 1 says PARAR; 2 is taken over; 3, 4, 5 stay silent
    contacts = {i: uuid4() for i in doctors}
    conversations = {i: campaign_conversation_id(campaign_id, contacts[i]) for i in doctors}

    def message(i: int, attempt: int | None) -> RequestedMessage:
        return RequestedMessage(
            message_id=uuid4(),
            idempotency_key=f"{i}:{attempt}",
            contact_id=contacts[i],
            phone=phone(i),
            kind=MessageKind.FOLLOWUP if attempt else MessageKind.CAMPAIGN,
            body="Oi",
            campaign_id=campaign_id,
            conversation_id=conversations[i],
            contact_name=f"Dra. Ana {i}",
            followup_attempt=attempt,
            followup_rule=f"campaign:{campaign_id}/primeiro_contato" if attempt else None,
        )

    async def request(batch: list[RequestedMessage], at) -> None:
        await publish(MessagesRequested(messages=batch, occurred_at=at))

    async def went_out(m: RequestedMessage, at) -> None:
        item = sent_message(
            m.message_id, at, campaign_id, kind=m.kind, conversation_id=m.conversation_id
        )
        await publish(MessagesSent(messages=[item], occurred_at=at))

    async def reply(i: int, body: str, at) -> None:
        await publish(
            MessageReceived(
                phone=phone(i),
                sender="sender-1",
                body=body,
                provider_message_id=f"in.{i}.{at}",
                at=at,
            )
        )

    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=6, occurred_at=T0))
    originals = [message(i, None) for i in doctors]
    await request(originals, T0)
    for m in originals:
        await went_out(m, T0)
    await reply(0, "Tenho interesse", T0 + timedelta(hours=1))
    await reply(1, "PARAR", T0 + timedelta(hours=2))
    await publish(
        ContactOptedOut(
            phone=phone(1), reason="PARAR", occurred_at=T0 + timedelta(hours=2, seconds=1)
        )
    )
    await publish(
        ConversationControlChanged(
            conversation_id=conversations[2],
            controlled_by=Controller.HUMAN,
            stopped=True,
            by="ana",
            occurred_at=T0 + timedelta(hours=3),
        )
    )
    # the plan's first follow-up to the three silent doctors; doctor 3 answers it
    first = [message(i, 1) for i in (3, 4, 5)]
    await request(first, T0 + 3 * DAY)
    for m in first:
        await went_out(m, T0 + 3 * DAY)
    await reply(3, "Opa, desculpa a demora", T0 + 3 * DAY + timedelta(hours=1))
    # the second: doctor 4's conversation is closed before it goes out, doctor 5 answers it
    second = [message(i, 2) for i in (4, 5)]
    await request(second, T0 + 6 * DAY)
    await publish(
        ConversationControlChanged(
            conversation_id=conversations[4],
            stage=ConversationStage.ENCERRADA,
            controlled_by=Controller.AUTOMATION,
            stopped=True,
            by="ana",
            occurred_at=T0 + 6 * DAY,
        )
    )
    await publish(
        MessageCancelled(
            message_id=second[0].message_id,
            campaign_id=campaign_id,
            conversation_id=conversations[4],
            kind=MessageKind.FOLLOWUP,
            reason="closed",
            occurred_at=T0 + 6 * DAY + timedelta(seconds=1),
        )
    )
    await went_out(second[1], T0 + 6 * DAY + timedelta(minutes=1))
    await reply(5, "Pode ser, me manda", T0 + 6 * DAY + timedelta(hours=2))

    expected = {
        "attempts": [
            {
                "attempt": 1,
                "requested": 3,
                "sent": 3,
                "cancelled": 0,
                "failed": 0,
                "answered_after": 1,
            },
            {
                "attempt": 2,
                "requested": 2,
                "sent": 1,
                "cancelled": 1,
                "failed": 0,
                "answered_after": 1,
            },
        ],
        "answered_after": [
            {"attempt": 0, "message": "original", "doctors": 2},  # PARAR is an answer too
            {"attempt": 1, "message": "followup", "doctors": 1},
            {"attempt": 2, "message": "followup", "doctors": 1},
        ],
        "stopped": {
            "replied": 3,
            "opted_out": 1,  # the opt-out counts, not the reply that carried it
            "taken_over": 1,
            "closed": 1,
            "not_stopped": 0,
        },
        "cancelled": {"replied": 0, "opted_out": 0, "taken_over": 0, "closed": 1},
        "opted_out_after": [{"attempt": 0, "message": "original", "doctors": 1}],
    }
    # the events travel on four streams: a reply may meet its follow-up's send late (and is
    # attributed again then), so wait for the whole picture, then compare it
    report = await wait_for_json(
        client,
        f"/v1/campaigns/{campaign_id}/report",
        lambda b: b["funnel"]["sent"] == 10 and b["followup"] == expected,
    )
    assert report["followup"] == expected

    # one CSV row per doctor, saying after which message they answered
    response = await client.get(f"/v1/campaigns/{campaign_id}/messages.csv")
    rows = {r["nome"]: r for r in csv.DictReader(io.StringIO(response.text), delimiter=";")}
    assert sorted(rows) == [f"Dra. Ana {i}" for i in doctors]
    answered = {name: (r["respondeu"], r["respondeu após"]) for name, r in rows.items()}
    assert answered == {
        "Dra. Ana 0": ("Sim", "mensagem da campanha"),
        "Dra. Ana 1": ("Sim", "mensagem da campanha"),
        "Dra. Ana 2": ("Não", ""),
        "Dra. Ana 3": ("Sim", "follow-up 1"),
        "Dra. Ana 4": ("Não", ""),
        "Dra. Ana 5": ("Sim", "follow-up 2"),
    }
    assert [rows[f"Dra. Ana {i}"]["follow-ups enviados"] for i in doctors] == [
        "0",
        "0",
        "0",
        "1",
        "1",
        "2",
    ]
    assert UUID(rows["Dra. Ana 0"]["id da mensagem"]) == originals[0].message_id


async def test_an_opt_out_stamped_in_the_second_of_the_send_stops_the_followups_as_opt_out(
    client: AsyncTestClient,  # noqa: F811
    publish: Publish,  # noqa: F811
) -> None:
    """The provider stamps an inbound PARAR in whole seconds; the send carries our own clock's
    fraction. An opt-out within the send's second came after it: it stops the cadence as an
    opt-out, not as the reply that carried it."""
    campaign_id, contact_id = uuid4(), uuid4()
    sent_at = T0 + timedelta(milliseconds=600)
    original = RequestedMessage(
        message_id=uuid4(),
        idempotency_key="same-second",
        contact_id=contact_id,
        phone=phone(1),
        kind=MessageKind.CAMPAIGN,
        body="Oi",
        campaign_id=campaign_id,
        conversation_id=campaign_conversation_id(campaign_id, contact_id),
        contact_name="Dra. Ana 1",
    )
    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=1, occurred_at=T0))
    await publish(MessagesRequested(messages=[original], occurred_at=T0))
    await publish(sent(original.message_id, sent_at, campaign_id))
    await publish(
        MessageReceived(
            phone=phone(1), sender="sender-1", body="PARAR", provider_message_id="in.1", at=T0
        )
    )
    await publish(ContactOptedOut(phone=phone(1), reason="PARAR", occurred_at=T0))

    report = await wait_for_json(
        client,
        f"/v1/campaigns/{campaign_id}/report",
        lambda b: b["funnel"]["sent"] == 1 and b["followup"]["opted_out_after"] != [],
    )
    assert report["followup"]["opted_out_after"] == [
        {"attempt": 0, "message": "original", "doctors": 1}
    ]
    assert report["followup"]["stopped"] == {
        "replied": 0,
        "opted_out": 1,
        "taken_over": 0,
        "closed": 0,
        "not_stopped": 0,
    }
