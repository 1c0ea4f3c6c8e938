"""Reporting against real Postgres and NATS: events in on the test's subjects,
answers out over HTTP.
"""

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import nats
import pytest
from litestar.testing import AsyncTestClient

from disparo_reporting.app import create_app
from disparo_reporting.settings import ReportingSettings
from disparo_shared.api_keys import ApiKeyEntry, hash_api_key
from disparo_shared.events import (
    CampaignCreated,
    CampaignStarted,
    ContactOptedOut,
    EnqueuedMessage,
    Event,
    MessageCancelled,
    MessageDelivered,
    MessageFailed,
    MessageKind,
    MessageRead,
    MessageReceived,
    MessagesEnqueued,
    MessagesRequested,
    MessagesSent,
    RecipientSnapshot,
    RequestedMessage,
    SentMessage,
    subjects,
)
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import HttpSettings
from disparo_shared.streams import qualified
from disparo_shared.testing.fixtures import TEST_API_KEY, eventually

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
REPORTS_KEY, PHONES_KEY = "reports-key", "reports-and-phones-key"
HEADERS = {"X-API-Key": REPORTS_KEY}
"""Most tests read as a key with reports:read only: phones and reply texts come masked."""
Publish = Callable[..., Awaitable[None]]


def with_report_keys(kernel: KernelSettings) -> KernelSettings:
    """``kernel`` with a reports-only key and one that may also see phones (plus the admin
    test key, for the rebuild)."""
    keys = [
        TEST_API_KEY,
        ApiKeyEntry(
            name="reports", hash=hash_api_key("", REPORTS_KEY), scopes=frozenset({"reports:read"})
        ),
        ApiKeyEntry(
            name="reports-phones",
            hash=hash_api_key("", PHONES_KEY),
            scopes=frozenset({"reports:read", "contacts:phones"}),
        ),
    ]
    return replace(kernel, http=HttpSettings(api_keys=keys))


@pytest.fixture
async def client(kernel_settings: KernelSettings) -> AsyncIterator[AsyncTestClient]:
    app = create_app(
        with_report_keys(kernel_settings),
        ReportingSettings(csv_batch_size=2),
        clock=lambda: T0 + timedelta(hours=1),
    )
    async with AsyncTestClient(app, base_url="http://reporting.local") as test_client:
        test_client.headers.update(HEADERS)
        yield test_client


@pytest.fixture
async def publish(
    kernel_settings: KernelSettings, client: AsyncTestClient
) -> AsyncIterator[Publish]:
    """Publish an event on the test's prefixed subject (streams exist once the app started).

    ``copy=True`` republishes under a fresh Nats-Msg-Id, so the stream's duplicate window lets
    it through and only the consumer's inbox can stop it.
    """
    nc = await nats.connect(kernel_settings.nats.url)
    js = nc.jetstream()

    async def _publish(event: Event, copy: bool = False) -> None:
        msg_id = str(uuid4()) if copy else str(event.event_id)
        await js.publish(
            qualified(kernel_settings.nats.stream_prefix, event.publish_subject),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id},
        )

    yield _publish
    await nc.close()


def requested(
    message_id: UUID,
    phone: str,
    campaign_id: UUID | None = None,
    recipient: RecipientSnapshot | None = None,
    contact_name: str | None = None,
) -> MessagesRequested:
    return MessagesRequested(
        occurred_at=T0,
        messages=[
            RequestedMessage(
                message_id=message_id,
                idempotency_key=str(message_id),
                phone=phone,
                kind=MessageKind.CAMPAIGN,
                body="Oi, temos um plantão",
                campaign_id=campaign_id,
                recipient=recipient,
                contact_name=contact_name,
            )
        ],
    )


MINUTE = timedelta(minutes=1)


def sent_message(
    message_id: UUID,
    at: datetime,
    campaign_id: UUID | None = None,
    attempt: int = 1,
    kind: MessageKind = MessageKind.CAMPAIGN,
    conversation_id: UUID | None = None,
    sender: str = "sender-1",
) -> SentMessage:
    return SentMessage(
        message_id=message_id,
        campaign_id=campaign_id,
        conversation_id=conversation_id,
        kind=kind,
        provider_message_id=f"wamid.{message_id.hex[:8]}",
        sender=sender,
        attempt=attempt,
        sent_at=at,
    )


def sent(
    message_id: UUID, at: datetime, campaign_id: UUID | None = None, attempt: int = 1
) -> MessagesSent:
    """The dispatcher's report of one flush that sent this one message."""
    return MessagesSent(
        messages=[sent_message(message_id, at, campaign_id, attempt)], occurred_at=at
    )


async def wait_for_json(
    client: AsyncTestClient, path: str, predicate: Callable[[dict], bool]
) -> dict:
    async def check() -> dict | None:
        response = await client.get(path)
        if response.status_code != 200:
            return None
        body = response.json()
        return body if predicate(body) else None

    return await eventually(check)


async def test_out_of_order_and_duplicated_events_end_in_the_furthest_state(
    client: AsyncTestClient, publish: Publish
) -> None:
    message_id = uuid4()
    at = T0 + timedelta(minutes=1)
    read = MessageRead(
        message_id=message_id, provider_message_id="wamid.1", at=at + timedelta(minutes=2)
    )
    delivered = MessageDelivered(
        message_id=message_id, provider_message_id="wamid.1", at=at + timedelta(minutes=1)
    )
    first_send = sent(message_id, at)
    enqueued = MessagesEnqueued(
        messages=[
            EnqueuedMessage(message_id=message_id, kind=MessageKind.CAMPAIGN, sender="sender-1")
        ],
        occurred_at=T0,
    )
    for event, copy in [
        (read, False),
        (first_send, False),
        (delivered, False),
        (first_send, True),
        (read, True),
        (enqueued, False),
        (requested(message_id, "+5511987654321"), False),
    ]:
        await publish(event, copy=copy)

    body = await wait_for_json(
        client, f"/v1/messages/{message_id}", lambda b: len(b["history"]) == 5
    )
    assert body["state"] == "read"
    assert body["attempts"] == 1
    assert body["kind"] == "campaign"
    assert [h["status"] for h in body["history"]] == [
        "requested",
        "enqueued",
        "sent",
        "delivered",
        "read",
    ]


async def test_a_lookup_answers_when_each_message_was_sent_delivered_and_read(
    client: AsyncTestClient, publish: Publish
) -> None:
    message_id, unknown = uuid4(), uuid4()
    at = T0 + timedelta(minutes=1)
    await publish(requested(message_id, "+5511987654322"))
    await publish(sent(message_id, at))
    await publish(
        MessageDelivered(message_id=message_id, provider_message_id="wamid.2", at=at + MINUTE)
    )
    await publish(
        MessageRead(message_id=message_id, provider_message_id="wamid.2", at=at + 2 * MINUTE)
    )
    await wait_for_json(client, f"/v1/messages/{message_id}", lambda b: b["state"] == "read")

    answer = await client.post(
        "/v1/messages/lookup", json={"message_ids": [str(message_id), str(unknown)]}
    )
    assert answer.status_code == 200
    [times] = answer.json()["items"]  # the unknown id is left out
    assert times["message_id"] == str(message_id) and times["state"] == "read"
    assert datetime.fromisoformat(times["sent_at"]) == at
    assert datetime.fromisoformat(times["delivered_at"]) == at + MINUTE
    assert datetime.fromisoformat(times["read_at"]) == at + 2 * MINUTE
    too_many = await client.post("/v1/messages/lookup", json={"message_ids": []})
    assert too_many.status_code == 422


async def test_unknown_message_is_a_404_problem(client: AsyncTestClient) -> None:
    response = await client.get(f"/v1/messages/{uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Message not found"


async def test_campaign_report_counts_the_funnel(client: AsyncTestClient, publish: Publish) -> None:
    campaign_id = uuid4()
    read_id, delivered_id, dead_id, pending_id = uuid4(), uuid4(), uuid4(), uuid4()
    phones = {
        read_id: "+5511900000001",
        delivered_id: "+5511900000002",
        dead_id: "+5511900000003",
        pending_id: "+5511900000004",
    }
    sent_at = T0 + timedelta(minutes=5)

    # the reply is published before the send it answers: attribution must catch up later
    await publish(
        MessageReceived(
            phone=phones[read_id],
            sender="sender-1",
            body="Tenho interesse",
            provider_message_id="wamid.in",
            at=sent_at + timedelta(minutes=2),
        )
    )
    await publish(
        CampaignCreated(campaign_id=campaign_id, name="Plantões de março", occurred_at=T0)
    )
    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=4, occurred_at=T0))
    for message_id, phone in phones.items():
        await publish(requested(message_id, phone, campaign_id))
    await publish(
        MessagesEnqueued(
            messages=[
                EnqueuedMessage(
                    message_id=message_id, campaign_id=campaign_id, kind=MessageKind.CAMPAIGN
                )
                for message_id in phones
            ],
            occurred_at=T0,
        )
    )
    for message_id in (read_id, delivered_id):
        await publish(sent(message_id, sent_at, campaign_id))
        await publish(
            MessageDelivered(
                message_id=message_id,
                campaign_id=campaign_id,
                provider_message_id="w",
                at=sent_at + timedelta(seconds=30),
            )
        )
    await publish(
        MessageRead(
            message_id=read_id,
            campaign_id=campaign_id,
            provider_message_id="w",
            at=sent_at + timedelta(minutes=1),
        )
    )
    await publish(
        MessageFailed(
            message_id=dead_id,
            campaign_id=campaign_id,
            attempt=1,
            error_code="130429",
            error="throughput",
            retryable=True,
            occurred_at=T0 + timedelta(minutes=1),
        )
    )
    await publish(
        MessageFailed(
            message_id=dead_id,
            campaign_id=campaign_id,
            attempt=2,
            error_code="131026",
            error="undeliverable",
            retryable=False,
            final=True,
            occurred_at=T0 + timedelta(minutes=2),
        )
    )
    await publish(
        ContactOptedOut(
            phone=phones[delivered_id], reason="PARAR", occurred_at=sent_at + timedelta(hours=1)
        )
    )

    expected_funnel = {
        "targeted": 4,
        "requested": 0,
        "enqueued": 4,
        "sent": 2,
        "delivered": 2,
        "read": 1,
        "replied": 1,
        "failed": 1,
        "dead": 1,
        "opted_out": 1,
        "needs_template": 0,
        "in_doubt": 0,
        "pending": 1,
    }
    # Each subject has its own consumer, so the events land in any order: wait for all of them.
    report = await wait_for_json(
        client, f"/v1/campaigns/{campaign_id}/report", lambda b: b["funnel"] == expected_funnel
    )
    assert report["name"] == "Plantões de março"
    assert report["status"] == "running"
    assert report["delivery_rate"] == 1.0
    assert report["read_rate"] == 0.5
    assert report["response_rate"] == 0.5
    assert report["reply_times"] == {"p50_seconds": 120.0, "p90_seconds": 120.0}
    assert report["top_responders"] == [
        {
            "phone": "+5511*******01",
            "name": None,
            "specialty": None,
            "region": None,
            "replies": 1,
            "first_reply_at": "2026-03-02T13:07:00Z",
            "seconds_to_first_reply": 120.0,
            "first_words": "Tenho interesse",
        }
    ]
    [errors] = report["errors_by_sender"]
    assert errors["sender"] is None  # it failed before the dispatcher named a sender
    [undeliverable] = errors["errors"]
    assert undeliverable["code"] == "131026" and undeliverable["error_class"] == "permanent"
    assert (undeliverable["messages"], undeliverable["dead"]) == (1, 1)
    assert "não usa WhatsApp" in undeliverable["explanation"] and undeliverable["action"]
    # 13:00 UTC is 10:00 in São Paulo; every step of this campaign fell in that hour
    point = {"sent": 2, "delivered": 2, "read": 1, "replied": 1, "failed": 1}
    assert report["time_zone"] == "America/Sao_Paulo"
    assert report["hourly"] == [{"start": "2026-03-02T10:00:00-03:00", **point}]
    assert report["daily"] == [{"start": "2026-03-02T00:00:00-03:00", **point}]
    assert report["retention"] == {
        "stream_max_age_days": 30.0,
        "older_than_retention": False,
        "note": None,
    }
    # no follow-ups in this campaign: the doctor who answered did so after the original
    assert report["followup"]["attempts"] == []
    assert report["followup"]["answered_after"] == [
        {"attempt": 0, "message": "original", "doctors": 1}
    ]

    stats = (await client.get("/v1/stats")).json()
    assert stats["totals_by_state"] == {"dead": 1, "enqueued": 1, "delivered": 1, "read": 1}
    assert stats["sent_last_hour"] == 2  # the injected clock reads T0 + 1 h
    assert stats["sent_last_minute"] == 0
    assert stats["delivery_rate"] == 1.0

    missing = await client.get(f"/v1/campaigns/{uuid4()}/report")
    assert missing.status_code == 404


async def test_csv_export_streams_the_recruiters_columns_with_masked_phones(
    client: AsyncTestClient, publish: Publish
) -> None:
    campaign_id = uuid4()
    ids = [uuid4() for _ in range(5)]
    for i, message_id in enumerate(ids):
        doctor = RecipientSnapshot(specialty="Pediatria", region="SP")
        phone = f"+55119876543{i:02d}"
        await publish(requested(message_id, phone, campaign_id, doctor, f"Dra. Ana {i}"))
        await publish(sent(message_id, T0 + timedelta(minutes=i), campaign_id))
    await publish(
        MessageReceived(
            phone="+5511987654302",
            sender="sender-1",
            body="Sim, tenho interesse",
            provider_message_id="wamid.in",
            at=T0 + timedelta(minutes=30),
        )
    )

    async def all_projected() -> list[dict] | None:
        # requests, sends and replies travel on different streams: wait for every half
        response = await client.get(f"/v1/campaigns/{campaign_id}/messages.csv")
        rows = list(csv.DictReader(io.StringIO(response.text), delimiter=";"))
        complete = (
            len(rows) == 5
            and all(r["nome"] and r["status de envio"] != "Na fila" for r in rows)
            and any(r["respondeu"] == "Sim" for r in rows)
        )
        return complete and rows

    rows = await eventually(all_projected)
    response = await client.get(f"/v1/campaigns/{campaign_id}/messages.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert not response.text.startswith("\ufeff")
    assert list(rows[0]) == [
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
    ]
    assert sorted(UUID(r["id da mensagem"]) for r in rows) == sorted(ids)  # 3 pages of 2
    assert {r["status de envio"] for r in rows} == {"Enviada (aguardando confirmação do WhatsApp)"}
    assert "+5511987654300" not in response.text
    by_name = {r["nome"]: r for r in rows}
    answered = by_name["Dra. Ana 2"]
    assert answered["telefone"] == "+5511*******02"
    assert (answered["especialidade"], answered["região"]) == ("Pediatria", "SP")
    # 13:30 UTC is 10:30 in São Paulo
    assert (answered["respondeu"], answered["primeira resposta em"]) == ("Sim", "02/03/2026 10:30")
    assert answered["respondeu após"] == "mensagem da campanha"
    assert [r["respondeu"] for r in rows].count("Não") == 4

    with_bom = await client.get(f"/v1/campaigns/{campaign_id}/messages.csv?bom=true")
    assert with_bom.content.startswith("\ufeff".encode())

    missing = await client.get(f"/v1/campaigns/{uuid4()}/messages.csv")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_phones_in_clear_only_for_a_key_that_may_see_them(
    client: AsyncTestClient, publish: Publish
) -> None:
    campaign_id, message_id = uuid4(), uuid4()
    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=1, occurred_at=T0))
    await publish(requested(message_id, "+5511987650077", campaign_id))
    await publish(sent(message_id, T0, campaign_id))
    await publish(
        MessageReceived(
            phone="+5511987650077",
            sender="sender-1",
            body="Pode ligar no 11 98765 0077",
            provider_message_id="wamid.in",
            at=T0 + timedelta(minutes=3),
        )
    )
    revealing = {"X-API-Key": PHONES_KEY}
    report = await wait_for_json(
        client, f"/v1/campaigns/{campaign_id}/report", lambda b: bool(b["top_responders"])
    )
    assert report["top_responders"][0]["phone"] == "+5511*******77"  # reports:read only
    assert "98765 0077" not in report["top_responders"][0]["first_words"]
    report = (await client.get(f"/v1/campaigns/{campaign_id}/report", headers=revealing)).json()
    csv_text = (
        await client.get(f"/v1/campaigns/{campaign_id}/messages.csv", headers=revealing)
    ).text
    [responder] = report["top_responders"]
    assert responder["phone"] == "+5511987650077"
    assert responder["first_words"] == "Pode ligar no 11 98765 0077"
    assert "+5511987650077" in csv_text


async def test_rebuild_replays_the_streams_into_the_same_projections(
    client: AsyncTestClient, publish: Publish
) -> None:
    campaign_id = uuid4()
    message_id = uuid4()
    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=1, occurred_at=T0))
    await publish(requested(message_id, "+5511987650000", campaign_id))
    message_sent = sent(message_id, T0 + timedelta(minutes=1), campaign_id)
    await publish(message_sent)
    await publish(message_sent, copy=True)
    before = await wait_for_json(
        client,
        f"/v1/campaigns/{campaign_id}/report",
        lambda b: (
            b["funnel"]["sent"] == 1
            and b["funnel"]["targeted"] == 1
            # the request (the doctor's phone) is projected too, not only the send
            and b["followup"]["stopped"]["not_stopped"] == 1
        ),
    )

    response = await client.post("/v1/admin/rebuild", headers={"X-API-Key": TEST_API_KEY})
    assert response.status_code == 200
    assert response.json()["replayed"] == 4
    assert response.json()["applied"] == 3  # the copy of "sent" is stopped by the inbox again

    after = (await client.get(f"/v1/campaigns/{campaign_id}/report")).json()
    assert after == before
    history = (await client.get(f"/v1/messages/{message_id}")).json()["history"]
    assert [h["status"] for h in history] == ["requested", "sent"]


async def test_an_urgent_request_is_projected_live_and_by_a_rebuild(
    client: AsyncTestClient, publish: Publish
) -> None:
    """A reply's request travels on ``messages.requested.urgent``: reporting reads it through a
    consumer of its own, and a rebuild replays it (the last event of its stream)."""
    message_id = uuid4()
    reply = MessagesRequested(
        occurred_at=T0,
        messages=[
            RequestedMessage(
                message_id=message_id,
                idempotency_key=str(message_id),
                phone="+5511987650001",
                kind=MessageKind.REPLY,
                body="Posso reservar o plantão de sábado?",
                priority=8,
            )
        ],
    )
    assert reply.publish_subject == subjects.MESSAGES_REQUESTED_URGENT
    await publish(reply)
    before = await wait_for_json(client, f"/v1/messages/{message_id}", lambda b: b["history"])
    assert before["kind"] == "reply"
    assert [h["status"] for h in before["history"]] == ["requested"]

    response = await client.post("/v1/admin/rebuild", headers={"X-API-Key": TEST_API_KEY})
    assert response.status_code == 200
    assert (response.json()["replayed"], response.json()["applied"]) == (1, 1)
    assert (await client.get(f"/v1/messages/{message_id}")).json() == before


async def test_metrics_count_projected_events(client: AsyncTestClient, publish: Publish) -> None:
    message_id = uuid4()
    await publish(sent(message_id, T0))
    await wait_for_json(client, f"/v1/messages/{message_id}", lambda b: b["state"] == "sent")
    metrics = (await client.get("/metrics")).text
    assert 'disparo_reporting_events_projected_total{event_type="MessagesSent"}' in metrics
    assert 'disparo_reporting_messages_projected_total{event_type="MessagesSent"}' in metrics
    assert "disparo_reporting_projection_lag_seconds" in metrics


async def test_overview_sorts_and_pages_the_campaigns_of_a_period(
    client: AsyncTestClient, publish: Publish
) -> None:
    # three campaigns in March answered by 0, 1 and 2 of their 2 doctors; one in February
    reply_counts = {uuid4(): 0, uuid4(): 1, uuid4(): 2}
    for n, (campaign_id, replies) in enumerate(reply_counts.items()):
        started = T0 + timedelta(days=n)
        await publish(CampaignCreated(campaign_id=campaign_id, name=f"c{n}", occurred_at=started))
        await publish(
            CampaignStarted(campaign_id=campaign_id, audience_size=2, occurred_at=started)
        )
        for d in range(2):
            message_id, phone = uuid4(), f"+551198700{n}{d:03d}"
            await publish(requested(message_id, phone, campaign_id))
            await publish(sent(message_id, started, campaign_id))
            if d < replies:
                await publish(
                    MessageReceived(
                        phone=phone,
                        sender="sender-1",
                        body="Sim",
                        provider_message_id=f"in.{n}.{d}",
                        at=started + timedelta(minutes=1),
                    )
                )
    february = uuid4()
    await publish(
        CampaignStarted(campaign_id=february, audience_size=9, occurred_at=T0 - timedelta(days=20))
    )
    period = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"

    first = await wait_for_json(
        client,
        f"/v1/campaigns/report?{period}&sort=reply_rate&order=desc&limit=2",
        # every send projected too: with one of c2's two sends seen, its rate is already 1.0
        lambda b: [(c["reply_rate"], c["sent"]) for c in b["campaigns"]] == [(1.0, 2), (0.5, 2)],
    )
    assert [c["campaign_id"] for c in first["campaigns"]] == [
        str(i) for i in list(reply_counts)[::-1][:2]
    ]
    assert first["campaigns"][0]["size"] == 2 and first["campaigns"][0]["sent"] == 2
    second = (
        await client.get(
            f"/v1/campaigns/report?{period}&sort=reply_rate&order=desc&limit=2"
            f"&cursor={first['next_cursor']}"
        )
    ).json()
    assert [c["reply_rate"] for c in second["campaigns"]] == [0.0]
    assert second["next_cursor"] is None

    ascending = (
        await client.get(f"/v1/campaigns/report?{period}&sort=started_at&order=asc")
    ).json()
    assert [c["name"] for c in ascending["campaigns"]] == ["c0", "c1", "c2"]

    bad_cursor = await client.get(f"/v1/campaigns/report?{period}&cursor=nonsense")
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"] == [
        {"field": "cursor", "reason": "cursor is not one this endpoint returned"}
    ]
    backwards = await client.get(
        "/v1/campaigns/report?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z"
    )
    assert backwards.json() == {"campaigns": [], "next_cursor": None}  # an empty period
    naive = await client.get(
        "/v1/campaigns/report?from=2026-03-01T00:00:00&to=2026-04-01T00:00:00Z"
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "from"


async def test_a_cancelled_follow_up_is_no_longer_pending(
    client: AsyncTestClient, publish: Publish
) -> None:
    campaign_id, message_id = uuid4(), uuid4()
    await publish(requested(message_id, "+5511987650090", campaign_id))
    await publish(
        MessagesEnqueued(
            messages=[
                EnqueuedMessage(
                    message_id=message_id, campaign_id=campaign_id, kind=MessageKind.FOLLOWUP
                )
            ],
            occurred_at=T0,
        )
    )
    await publish(
        MessageCancelled(
            message_id=message_id,
            campaign_id=campaign_id,
            kind=MessageKind.FOLLOWUP,
            reason="replied",
            occurred_at=T0 + timedelta(minutes=1),
        )
    )
    body = await wait_for_json(
        client, f"/v1/messages/{message_id}", lambda b: b["state"] == "cancelled"
    )
    assert [h["status"] for h in body["history"]] == ["requested", "enqueued", "cancelled"]
    assert body["history"][-1]["detail"] == "replied"
    report = (await client.get(f"/v1/campaigns/{campaign_id}/report")).json()
    assert report["funnel"]["pending"] == 0


async def test_an_answer_sent_after_the_reply_arrived_never_takes_the_reply(
    client: AsyncTestClient, publish: Publish
) -> None:
    """The recruiter answers a doctor a second after the reply arrived. The provider stamps the
    reply in whole seconds, so the answer's send falls inside the stamp's slack, yet it was
    requested after the dispatcher received the reply: the reply stays the campaign's,
    whichever event comes first. (``disparo chaos`` found campaigns reporting fewer replies
    than came.)"""
    campaign_id = uuid4()
    await publish(CampaignCreated(campaign_id=campaign_id, name="Respostas", occurred_at=T0))
    await publish(CampaignStarted(campaign_id=campaign_id, audience_size=2, occurred_at=T0))
    sent_at = T0 + timedelta(minutes=5, seconds=0.2)
    doctors = {uuid4(): "+5511900000011", uuid4(): "+5511900000012"}
    answers = []
    for number, (message_id, phone) in enumerate(doctors.items()):
        reply = MessageReceived(
            phone=phone,
            sender="sender-1",
            body="Tenho interesse",
            provider_message_id=f"wamid.in{number}",
            at=T0 + timedelta(minutes=5, seconds=1),  # received at 1.3 s, stamped 1 s
            occurred_at=sent_at + timedelta(seconds=1.1),
        )
        answer_id = uuid4()
        answers.append(answer_id)
        answer = [
            MessagesRequested(  # the recruiter asks for the answer once the reply is in
                occurred_at=sent_at + timedelta(seconds=1.6),
                messages=[
                    RequestedMessage(
                        message_id=answer_id,
                        idempotency_key=str(answer_id),
                        phone=phone,
                        kind=MessageKind.REPLY,
                        body="Que bom! Posso reservar?",
                    )
                ],
            ),
            MessagesSent(
                messages=[
                    sent_message(
                        answer_id, sent_at + timedelta(seconds=2.3), kind=MessageKind.REPLY
                    )
                ],
                occurred_at=sent_at + timedelta(seconds=2.3),
            ),
        ]
        campaign_send = [
            requested(message_id, phone, campaign_id),
            sent(message_id, sent_at, campaign_id),
        ]
        # the first doctor's reply comes after every send; the second's before them
        events = (
            [*campaign_send, *answer, reply] if number == 0 else [reply, *answer, *campaign_send]
        )
        for event in events:
            await publish(event)

    for answer_id in answers:  # every send projected, so no attribution is still to change
        await wait_for_json(client, f"/v1/messages/{answer_id}", lambda b: b["state"] == "sent")
    # the replies travel on their own stream: wait for both (the wrong rule never gets there)
    body = await wait_for_json(
        client, f"/v1/campaigns/{campaign_id}/report", lambda b: b["funnel"]["replied"] == 2
    )
    assert body["funnel"]["sent"] == 2
    assert {r["replies"] for r in body["top_responders"]} == {1}
