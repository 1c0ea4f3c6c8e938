"""Conversations over HTTP: list, timeline, stage, takeover and release, with their history,
against real Postgres and NATS; concurrent changes serialise per conversation."""

import asyncio
import json
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
from followup_harness import T0, Clock, Publish, open_campaign_conversation
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from disparo_shared.events import (
    MessageReceived,
)
from disparo_shared.events.subjects import CONVERSATION_CONTROL_CHANGED, STREAM_CONVERSATIONS
from disparo_shared.runtime import KernelSettings
from disparo_shared.streams import stream_name
from disparo_shared.testing.fixtures import eventually


async def test_takeover_release_and_stage_are_kept_as_history(
    client: AsyncTestClient,
    publish: Publish,
    clock: Clock,
    js: JetStreamContext,
    kernel_settings: KernelSettings,
) -> None:
    conversation_id = await open_campaign_conversation(client, publish, "+5511944440001")
    base = f"/v1/conversations/{conversation_id}"

    clock.now = T0 + timedelta(hours=1)
    taken = await client.post(f"{base}/takeover", json={"by": "ana", "reason": "pediu valores"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["controlled_by"] == "human" and taken.json()["held_by"] == "ana"
    again = await client.post(f"{base}/takeover", json={"by": "ana"})
    assert again.status_code == 200 and again.json()["changed"] is False
    other = await client.post(f"{base}/takeover", json={"by": "bruno"})
    assert other.status_code == 409
    assert other.json()["errors"] == [{"field": "by", "reason": "held by ana"}]

    clock.now = T0 + timedelta(days=5)
    run = (await client.post("/v1/admin/followups/run")).json()
    assert run["requested"] == 0  # a human holds it: nothing automatic

    clock.now = T0 + timedelta(days=5, hours=1)
    moved = await client.post(
        f"{base}/stage", json={"stage": "pos_interesse", "by": "ana", "reason": "quer a vaga"}
    )
    assert moved.status_code == 200 and moved.json()["stage"] == "pos_interesse"
    released = await client.post(f"{base}/release", json={"by": "ana", "reason": "volta ao fluxo"})
    assert released.status_code == 200
    assert released.json()["controlled_by"] == "automation"
    assert (await client.post(f"{base}/release", json={"by": "ana"})).status_code == 409

    view = (await client.get(base)).json()
    assert [
        (h["by"], h["stage_after"], h["controller_after"], h["reason"]) for h in view["history"]
    ] == [
        ("ana", "primeiro_contato", "human", "pediu valores"),
        ("ana", "pos_interesse", "human", "quer a vaga"),
        ("ana", "pos_interesse", "automation", "volta ao fluxo"),
    ]
    assert view["messages"][0]["direction"] == "out" and view["messages"][0]["kind"] == "campaign"
    # released in pos_interesse, our last message 5 days ago: its follow-up is due
    run = (await client.post("/v1/admin/followups/run")).json()
    assert run["by_stage"] == {"pos_interesse": 1}
    # the dispatcher hears each change that stops or frees automatic messages
    told = await eventually(lambda: control_events(js, kernel_settings, conversation_id, 3))
    assert [(e["controlled_by"], e["stopped"], e["by"]) for e in told] == [
        ("human", True, "ana"),
        ("human", True, "ana"),
        ("automation", False, "ana"),
    ]


async def control_events(
    js: JetStreamContext, kernel_settings: KernelSettings, conversation_id: UUID, n: int
) -> list[dict] | None:
    """The conversation.control_changed events of ``conversation_id`` on the stream, once
    there are ``n``."""
    name = stream_name(kernel_settings.nats.stream_prefix, STREAM_CONVERSATIONS)
    state = (await js.stream_info(name)).state
    found = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        msg = await js.get_msg(name, seq)
        payload = json.loads(msg.data)
        if msg.subject.endswith(CONVERSATION_CONTROL_CHANGED) and payload.get(
            "conversation_id"
        ) == str(conversation_id):
            found.append(payload)
    return found if len(found) >= n else None


async def test_a_reply_joins_the_timeline_of_the_doctors_open_conversations(
    client: AsyncTestClient, publish: Publish
) -> None:
    phone = "+5511944440002"
    first = await open_campaign_conversation(client, publish, phone)
    second = await open_campaign_conversation(client, publish, phone)
    await publish(
        MessageReceived(
            phone=phone,
            sender="sender-1",
            body="Tenho interesse",
            provider_message_id="wamid.in.1",
            at=T0 + timedelta(hours=2),
        )
    )

    async def replied(conversation_id: UUID):
        view = (await client.get(f"/v1/conversations/{conversation_id}")).json()
        return [m for m in view["messages"] if m["direction"] == "in"]

    for conversation_id in (first, second):
        [reply] = await eventually(lambda c=conversation_id: replied(c))
        assert reply["body"] == "Tenho interesse"


async def test_concurrent_takeovers_have_one_winner(
    client: AsyncTestClient, publish: Publish, db: asyncpg.Connection
) -> None:
    conversation_id = await open_campaign_conversation(client, publish, "+5511944440003")
    people = [f"recrutador-{i}" for i in range(8)]
    answers = await asyncio.gather(
        *(
            client.post(f"/v1/conversations/{conversation_id}/takeover", json={"by": who})
            for who in people
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 7
    [winner] = [a.json()["held_by"] for a in answers if a.status_code == 200]
    history = await db.fetch(
        "SELECT by FROM followup.conversation_changes WHERE conversation_id = $1", conversation_id
    )
    assert [h["by"] for h in history] == [winner]


async def test_concurrent_stage_changes_apply_one_after_another(
    client: AsyncTestClient, publish: Publish, db: asyncpg.Connection
) -> None:
    conversation_id = await open_campaign_conversation(client, publish, "+5511944440004")
    stages = ["pos_interesse", "pos_oferta", "primeiro_contato", "encerrada", "pos_interesse"] * 2
    answers = await asyncio.gather(
        *(
            client.post(
                f"/v1/conversations/{conversation_id}/stage", json={"stage": s, "by": f"p{i}"}
            )
            for i, s in enumerate(stages)
        )
    )
    assert all(a.status_code == 200 for a in answers)
    history = await db.fetch(
        "SELECT stage_before, stage_after FROM followup.conversation_changes"
        " WHERE conversation_id = $1 ORDER BY change_id",
        conversation_id,
    )
    # a chain: each change starts where the one before it ended, and the last is what remains
    previous = "primeiro_contato"
    for change in history:
        assert change["stage_before"] == previous
        previous = change["stage_after"]
    final = (await client.get(f"/v1/conversations/{conversation_id}")).json()["stage"]
    assert final == previous
    assert len(history) == sum(1 for a in answers if a.json()["changed"])


async def test_the_list_filters_and_pages_with_a_cursor(
    client: AsyncTestClient, publish: Publish
) -> None:
    campaign_id = uuid4()
    ids = {
        await open_campaign_conversation(client, publish, f"+55119444410{i:02d}", campaign_id)
        for i in range(5)
    }
    taken = sorted(ids)[0]
    await client.post(f"/v1/conversations/{taken}/takeover", json={"by": "ana"})

    seen: list[str] = []
    cursor = None
    while True:
        params = {
            "campaign": str(campaign_id),
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await client.get("/v1/conversations", params=params)).json()
        seen += [item["conversation_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(str(i) for i in ids)
    humans = (
        await client.get(
            "/v1/conversations", params={"campaign": str(campaign_id), "controller": "human"}
        )
    ).json()
    assert [item["conversation_id"] for item in humans["items"]] == [str(taken)]


async def test_bad_input_names_the_field(client: AsyncTestClient, publish: Publish) -> None:
    conversation_id = await open_campaign_conversation(client, publish, "+5511944440005")
    base = f"/v1/conversations/{conversation_id}"
    bad_stage = await client.post(f"{base}/stage", json={"stage": "talvez", "by": "ana"})
    assert bad_stage.status_code in (400, 422)
    assert "stage" in bad_stage.text
    no_one = await client.post(f"{base}/takeover", json={"by": ""})
    assert no_one.status_code in (400, 422) and "by" in no_one.text
    listed = await client.get("/v1/conversations", params={"stage": "talvez"})
    assert listed.status_code == 422
    assert listed.json()["errors"][0]["field"] == "stage"
    assert (await client.get("/v1/conversations", params={"cursor": "@@"})).status_code == 422
    missing = await client.post(f"/v1/conversations/{uuid4()}/takeover", json={"by": "ana"})
    assert missing.status_code == 404


async def test_a_doctors_timeline_spans_their_conversations_newest_first_a_page_at_a_time(
    client: AsyncTestClient, publish: Publish
) -> None:
    phone, contact_id = "+5511944440009", uuid4()
    first = await open_campaign_conversation(client, publish, phone, contact_id=contact_id)
    second = await open_campaign_conversation(
        client, publish, phone, contact_id=contact_id, sent_at=T0 + timedelta(hours=1)
    )
    await open_campaign_conversation(client, publish, "+5511944440010")  # someone else
    await publish(
        MessageReceived(
            phone=phone,
            sender="sender-1",
            body="Tenho interesse",
            provider_message_id="wamid.in.9",
            at=T0 + timedelta(hours=2),
        )
    )

    async def whole_timeline():
        answer = (await client.get(f"/v1/contacts/{contact_id}/timeline")).json()
        return answer["items"] if len(answer["items"]) == 3 else None

    reply, newer, older = await eventually(whole_timeline)
    assert (reply["direction"], reply["body"]) == ("in", "Tenho interesse")  # once, not twice
    assert [newer["conversation_id"], older["conversation_id"]] == [str(second), str(first)]
    assert newer["kind"] == "campaign" and newer["campaign_id"] and newer["message_id"]

    page = (await client.get(f"/v1/contacts/{contact_id}/timeline", params={"limit": 2})).json()
    assert [m["at"] for m in page["items"]] == [reply["at"], newer["at"]]
    rest = await client.get(
        f"/v1/contacts/{contact_id}/timeline", params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert rest.json() == {"items": [older], "next_cursor": None}
    nobody = await client.get(f"/v1/contacts/{uuid4()}/timeline")
    assert nobody.json() == {"items": [], "next_cursor": None}
    bad = await client.get(f"/v1/contacts/{contact_id}/timeline", params={"cursor": "x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
