"""Follow-up rules over HTTP, versioned in Postgres, and the job that follows them."""

from datetime import timedelta
from uuid import uuid4

import asyncpg
from followup_harness import T0, Clock, Publish, one_sent, open_campaign_conversation
from litestar.testing import AsyncTestClient

from disparo_followup.texts import DEFAULT_TEXTS
from disparo_shared.events import (
    ConversationStage,
    MessageCancelled,
    MessageKind,
    MessageReceived,
)
from disparo_shared.testing.fixtures import eventually

QUICK = {
    "primeiro_contato": {
        "delay": "PT2S",
        "max_followups": 2,
        "texts": [["Oi {nome}, viu a vaga?", "{nome}, viu a vaga?"], ["Última chamada, {nome}!"]],
    }
}


async def test_the_default_rules_are_the_specs_until_someone_saves_a_version(
    client: AsyncTestClient,
) -> None:
    [padrao] = (await client.get("/v1/followup-rules")).json()["rule_sets"]
    assert (padrao["name"], padrao["version"]) == ("padrao", 0)
    first = padrao["rules"]["primeiro_contato"]
    assert (first["delay"], first["max_followups"]) == ("3d", 2)
    assert first["texts"][0][0] == DEFAULT_TEXTS[ConversationStage.PRIMEIRO_CONTATO][0][0]
    assert (padrao["rules"]["pos_interesse"]["delay"], padrao["rules"]["pos_oferta"]["delay"]) == (
        "1d",
        "2d",
    )


async def test_saving_makes_a_new_version_and_a_stale_edit_is_refused(
    client: AsyncTestClient,
) -> None:
    saved = await client.put(
        "/v1/followup-rules", json={"by": "ops", "expected_version": 0, "rules": QUICK}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["created_by"] == "ops"
    stale = await client.put(
        "/v1/followup-rules", json={"by": "outro", "expected_version": 0, "rules": QUICK}
    )
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["field"] == "expected_version"
    bad = await client.put(
        "/v1/followup-rules",
        json={
            "by": "ops",
            "rules": {"pos_oferta": {"delay": "2d", "max_followups": 1, "texts": [["{x}"]]}},
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "field": "rules.pos_oferta.texts[0][0]",
            "reason": "position 1: unknown placeholder {x}; allowed: {nome}, {primeiro_nome}"
            " (write {{ and }} for literal braces)",
        }
    ]
    [current] = (await client.get("/v1/followup-rules")).json()["rule_sets"]
    assert current["version"] == 1 and current["rules"] == {
        "primeiro_contato": {**QUICK["primeiro_contato"], "delay": "2s"}
    }


async def test_the_job_follows_the_saved_rules_and_says_what_it_skipped_and_why(
    client: AsyncTestClient, publish: Publish, clock: Clock
) -> None:
    assert (
        await client.put("/v1/followup-rules", json={"by": "ops", "rules": QUICK})
    ).status_code == 200
    silent = await open_campaign_conversation(client, publish, "+5511955550001")
    await open_campaign_conversation(client, publish, "+5511955550002")
    taken = await open_campaign_conversation(client, publish, "+5511955550003")
    await client.post(f"/v1/conversations/{taken}/takeover", json={"by": "ana"})
    await publish(
        MessageReceived(
            phone="+5511955550002",
            sender="sender-1",
            body="Oi!",
            provider_message_id="wamid.r",
            at=T0 + timedelta(seconds=1),
        )
    )

    async def reply_known():
        page = (await client.get("/v1/conversations", params={"limit": 200})).json()
        return any(item["last_inbound_at"] for item in page["items"])

    await eventually(reply_known)
    clock.now = T0 + timedelta(seconds=2)
    summary = (await client.post("/v1/admin/followups/run")).json()
    assert summary["requested"] == 1
    assert summary["by_rule"]["padrao/primeiro_contato"] == {
        "scheduled": 1,
        "skipped": {"replied": 1, "taken_over": 1},
    }
    view = (await client.get(f"/v1/conversations/{silent}")).json()
    assert [(f["stage"], f["attempt"]) for f in view["followups"]] == [("primeiro_contato", 1)]


async def test_the_loop_report_counts_followups_sent_and_cancelled_by_reason(
    client: AsyncTestClient, publish: Publish, clock: Clock, db: asyncpg.Connection
) -> None:
    assert (
        await client.put("/v1/followup-rules", json={"by": "ops", "rules": QUICK})
    ).status_code == 200
    campaign_id = uuid4()
    first = await open_campaign_conversation(client, publish, "+5511955560001", campaign_id)
    second = await open_campaign_conversation(client, publish, "+5511955560002", campaign_id)
    clock.now = T0 + timedelta(seconds=2)
    assert (await client.post("/v1/admin/followups/run")).json()["requested"] == 2
    rows = {
        r["conversation_id"]: r["message_id"]
        for r in await db.fetch("SELECT conversation_id, message_id FROM followup.followups")
    }
    await publish(
        one_sent(
            rows[first],
            first,
            MessageKind.FOLLOWUP,
            T0 + timedelta(seconds=3),
            campaign_id=campaign_id,
        )
    )
    await publish(
        MessageCancelled(
            message_id=rows[second],
            campaign_id=campaign_id,
            conversation_id=second,
            kind=MessageKind.FOLLOWUP,
            reason="replied",
        )
    )
    await publish(
        MessageReceived(
            phone="+5511955560001",
            sender="sender-1",
            body="Agora vi!",
            provider_message_id="wamid.r1",
            at=T0 + timedelta(seconds=4),
        )
    )

    async def counted():
        report = (
            await client.get("/v1/reports/followups", params={"campaign": str(campaign_id)})
        ).json()
        done = report["followups_sent"] == 1 and report["followups_cancelled"] and report["replied"]
        return report if done else None

    report = await eventually(counted)
    assert report["conversations"] == 2
    assert report["followups_requested"] == 2
    assert report["followups_cancelled"] == {"replied": 1}
    assert report["replied_after_followups"] == {"1": 1}
    assert report["by_rule"] == [
        {
            "rule": "padrao/primeiro_contato",
            "attempt": 1,
            "sent": 1,
            "replied_after": 1,
            "reply_rate": 1.0,
        }
    ]
