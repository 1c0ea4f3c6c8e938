"""The Evolution API dialect: response shapes for success, auth, bad input and refusals."""

import re

from sim_helpers import EVOLUTION_AUTH, EVOLUTION_URL, evolution_message, provider_of, stats


async def test_accepted_send_answers_201_with_key_and_pending_status(client):
    response = await client.post(EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH)

    assert response.status_code == 201
    body = response.json()
    assert body["key"]["remoteJid"] == "5511987654321@s.whatsapp.net"
    assert body["key"]["fromMe"] is True
    assert re.fullmatch(r"3EB0[0-9A-F]{16}", body["key"]["id"])
    assert body["message"] == {"conversation": "Olá, doutor!"}
    assert isinstance(body["messageTimestamp"], int)
    assert body["status"] == "PENDING"


async def test_accepted_send_is_recorded_with_instance_delay_and_caller_message_id(client):
    headers = {**EVOLUTION_AUTH, "X-Disparo-Message-Id": "msg-1"}
    response = await client.post(EVOLUTION_URL, json=evolution_message(), headers=headers)

    (send,) = (await client.get("/_sim/sends")).json()
    assert send["sender"] == "recruiter-1"
    assert send["recipient"] == "5511987654321"
    assert send["body"] == "Olá, doutor!"
    assert send["message_id"] == "msg-1"
    assert send["provider_message_id"] == response.json()["key"]["id"]
    assert send["dialect"] == "evolution"
    assert send["delay_ms"] == 1200


async def test_wrong_apikey_is_401_and_records_nothing(client):
    response = await client.post(
        EVOLUTION_URL, json=evolution_message(), headers={"apikey": "wrong"}
    )

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert len(provider_of(client).log) == 0


async def test_missing_text_is_400_in_evolution_error_shape(client):
    response = await client.post(
        EVOLUTION_URL, json={"number": "5511987654321"}, headers=EVOLUTION_AUTH
    )

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["error"] == "Bad Request"
    assert "text" in body["response"]["message"][0]


async def test_number_given_as_jid_is_accepted_as_its_digits(client):
    response = await client.post(
        EVOLUTION_URL,
        json=evolution_message(number="5511987654321@s.whatsapp.net"),
        headers=EVOLUTION_AUTH,
    )

    assert response.status_code == 201
    assert response.json()["key"]["remoteJid"] == "5511987654321@s.whatsapp.net"


async def test_number_not_on_whatsapp_is_400_exists_false(make_client):
    async with make_client(permanent_numbers=["5511900000000"]) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(number="5511900000000"), headers=EVOLUTION_AUTH
        )

    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "error": "Bad Request",
        "response": {
            "message": [
                {
                    "exists": False,
                    "jid": "5511900000000@s.whatsapp.net",
                    "number": "5511900000000",
                }
            ]
        },
    }


async def test_opted_out_number_is_answered_like_a_number_not_on_whatsapp(make_client):
    async with make_client(opted_out_numbers=["5511900000001"]) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(number="5511900000001"), headers=EVOLUTION_AUTH
        )

        assert response.status_code == 400
        assert response.json()["response"]["message"][0]["exists"] is False
        assert (await stats(client))["opted_out"] == 1


async def test_locked_instance_is_404_instance_does_not_exist(make_client):
    async with make_client(locked_senders=["recruiter-1"]) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH
        )

        assert response.status_code == 404
        assert response.json() == {
            "status": 404,
            "error": "Not Found",
            "response": {"message": ['The "recruiter-1" instance does not exist']},
        }
        assert (await stats(client))["sender_locked"] == 1
        assert len(provider_of(client).log) == 0


async def test_async_failures_do_not_apply_evolution_still_answers_exists_false(make_client):
    async with make_client(async_failures=True, permanent_numbers=["5511987654321"]) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH
        )

    assert response.status_code == 400
    assert response.json()["response"]["message"][0]["exists"] is False


async def test_over_the_rate_is_429_rate_overlimit_with_retry_after(make_client, clock):
    async with make_client(rate_per_second=2) as client:
        for index in range(2):
            await client.post(
                EVOLUTION_URL,
                json=evolution_message(number=f"55119876543{index:02d}"),
                headers=EVOLUTION_AUTH,
            )
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(number="5511987654399"), headers=EVOLUTION_AUTH
        )

    assert response.status_code == 429
    assert response.json() == {
        "status": 429,
        "error": "Too Many Requests",
        "response": {"message": ["rate-overlimit"]},
    }
    assert response.headers["retry-after"] == "1"


async def test_same_recipient_again_within_spacing_is_429_with_retry_after(client, clock):
    await client.post(EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH)
    clock.advance(2.0)

    response = await client.post(EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "4"
    assert (await stats(client))["pair_limited"] == 1


async def test_injected_5xx_is_500_connection_closed(make_client):
    async with make_client(error_5xx_rate=1.0) as client:
        response = await client.post(
            EVOLUTION_URL, json=evolution_message(), headers=EVOLUTION_AUTH
        )

    assert response.status_code == 500
    assert response.json() == {
        "status": 500,
        "error": "Internal Server Error",
        "response": {"message": ["Connection Closed"]},
    }


FIND_URL = "/chat/findMessages/recruiter-1"


def _chat(number: str = "5511987654321") -> dict:
    return {"where": {"key": {"remoteJid": f"{number}@s.whatsapp.net"}}, "page": 1, "offset": 50}


async def test_find_messages_lists_a_chats_sends_newest_first_in_evolution_v2_shape(client, clock):
    first = await client.post(
        EVOLUTION_URL, json=evolution_message(text="um"), headers=EVOLUTION_AUTH
    )
    clock.advance(60)  # past the pair spacing
    second = await client.post(
        EVOLUTION_URL, json=evolution_message(text="dois"), headers=EVOLUTION_AUTH
    )
    await client.post(
        EVOLUTION_URL, json=evolution_message(number="5511900000000"), headers=EVOLUTION_AUTH
    )

    response = await client.post(FIND_URL, json=_chat(), headers=EVOLUTION_AUTH)

    assert response.status_code == 200
    page = response.json()["messages"]
    assert (page["total"], page["pages"], page["currentPage"]) == (2, 1, 1)
    ids = [record["key"]["id"] for record in page["records"]]
    assert ids == [second.json()["key"]["id"], first.json()["key"]["id"]]
    newest = page["records"][0]
    assert newest["key"] == {
        "id": second.json()["key"]["id"],
        "fromMe": True,
        "remoteJid": "5511987654321@s.whatsapp.net",
    }
    assert newest["message"] == {"conversation": "dois"}
    assert isinstance(newest["messageTimestamp"], int)
    assert (await stats(client))["lookups"] == 1


async def test_find_messages_pages_by_offset_and_finds_nothing_for_an_unknown_chat(client, clock):
    for n in range(3):
        clock.advance(60)
        await client.post(
            EVOLUTION_URL, json=evolution_message(text=f"texto {n}"), headers=EVOLUTION_AUTH
        )

    second_page = await client.post(
        FIND_URL, json={**_chat(), "page": 2, "offset": 2}, headers=EVOLUTION_AUTH
    )
    unknown = await client.post(FIND_URL, json=_chat("5511911111111"), headers=EVOLUTION_AUTH)

    assert second_page.json()["messages"]["pages"] == 2
    assert [r["message"]["conversation"] for r in second_page.json()["messages"]["records"]] == [
        "texto 0"
    ]
    assert unknown.json()["messages"]["records"] == []


async def test_find_messages_needs_the_apikey_and_a_chat(client):
    no_key = await client.post(FIND_URL, json=_chat(), headers={"apikey": "wrong"})
    no_chat = await client.post(FIND_URL, json={"where": {}}, headers=EVOLUTION_AUTH)

    assert no_key.status_code == 401
    assert no_chat.status_code == 400
    assert "remoteJid" in no_chat.json()["response"]["message"][0]
