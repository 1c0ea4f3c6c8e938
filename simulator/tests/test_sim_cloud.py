"""The Cloud API dialect: response shapes for success, auth, bad input and Graph error codes."""

import pytest
from sim_helpers import CLOUD_AUTH, CLOUD_URL, cloud_message, provider_of, stats


async def test_accepted_send_answers_200_with_contact_and_wamid(client):
    response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "5511987654321", "wa_id": "5511987654321"}]
    assert body["messages"][0]["id"].startswith("wamid.")


async def test_path_without_version_is_accepted_too(client):
    response = await client.post("/1234567890/messages", json=cloud_message(), headers=CLOUD_AUTH)

    assert response.status_code == 200


async def test_provider_message_ids_are_unique(client, clock):
    ids = set()
    for index in range(50):
        response = await client.post(
            CLOUD_URL, json=cloud_message(to=f"55119000000{index:02d}"), headers=CLOUD_AUTH
        )
        ids.add(response.json()["messages"][0]["id"])

    assert len(ids) == 50


async def test_accepted_send_is_recorded_with_phone_number_id_and_callback_data_as_id(client):
    await client.post(
        CLOUD_URL, json=cloud_message(biz_opaque_callback_data="msg-7"), headers=CLOUD_AUTH
    )

    (send,) = (await client.get("/_sim/sends")).json()
    assert send["sender"] == "1234567890"
    assert send["recipient"] == "5511987654321"
    assert send["message_id"] == "msg-7"
    assert send["dialect"] == "cloud"
    assert send["delay_ms"] is None


async def test_message_id_header_wins_over_callback_data(client):
    await client.post(
        CLOUD_URL,
        json=cloud_message(biz_opaque_callback_data="opaque"),
        headers={**CLOUD_AUTH, "X-Disparo-Message-Id": "msg-8"},
    )

    (send,) = (await client.get("/_sim/sends")).json()
    assert send["message_id"] == "msg-8"


async def test_wrong_token_is_401_graph_code_190(client):
    response = await client.post(
        CLOUD_URL, json=cloud_message(), headers={"Authorization": "Bearer nope"}
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert len(provider_of(client).log) == 0


async def test_missing_recipient_is_400_graph_code_100(client):
    message = cloud_message()
    del message["to"]

    response = await client.post(CLOUD_URL, json=message, headers=CLOUD_AUTH)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert "to" in response.json()["error"]["message"]


async def test_unsupported_message_type_is_400_graph_code_100(client):
    message = cloud_message(type="image")

    response = await client.post(CLOUD_URL, json=message, headers=CLOUD_AUTH)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100


async def test_over_the_rate_is_429_code_130429_in_graph_shape(make_client):
    async with make_client(rate_per_second=1) as client:
        await client.post(CLOUD_URL, json=cloud_message(to="5511900000001"), headers=CLOUD_AUTH)
        response = await client.post(
            CLOUD_URL, json=cloud_message(to="5511900000002"), headers=CLOUD_AUTH
        )

        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == 130429
        assert error["type"] == "OAuthException"
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert error["error_data"]["details"]
        assert error["fbtrace_id"]
        counts = await stats(client)
        assert counts["throttled"] == 1
        assert counts["accepted"] == 1


async def test_same_recipient_again_within_spacing_is_429_code_131056(client, clock):
    await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
    clock.advance(5.9)

    response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == 131056


async def test_rate_limits_carry_no_retry_after_unless_configured(client, clock):
    await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert response.json()["error"]["code"] == 131056
    assert "retry-after" not in response.headers


async def test_configured_retry_after_is_sent_but_never_shorter_than_the_real_wait(
    make_client, clock
):
    async with make_client(retry_after_seconds=2, rate_per_second=1) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        clock.advance(0.5)
        throttled = await client.post(
            CLOUD_URL, json=cloud_message(to="5511900000001"), headers=CLOUD_AUTH
        )
        clock.advance(1.0)
        pair_limited = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert throttled.json()["error"]["code"] == 130429
    assert throttled.headers["retry-after"] == "2"  # the configured value; the wait is 0.5 s
    assert pair_limited.json()["error"]["code"] == 131056
    assert pair_limited.headers["retry-after"] == "5"  # 6 s spacing, 1.5 s gone


async def test_retry_after_must_be_a_positive_number_of_seconds(client):
    response = await client.put("/_sim/config", json={"retry_after_seconds": 0})

    assert response.status_code == 400
    assert "retry_after_seconds" in response.text


@pytest.mark.parametrize(
    ("fault", "code", "counter"),
    [
        ({"permanent_numbers": ["5511987654321"]}, 131026, "permanent"),
        ({"template_required_numbers": ["5511987654321"]}, 131047, "template_required"),
        ({"spam_senders": ["1234567890"]}, 131048, "spam_limited"),
        ({"opted_out_numbers": ["5511987654321"]}, 131050, "opted_out"),
        ({"locked_senders": ["1234567890"]}, 131031, "sender_locked"),
    ],
)
async def test_recipient_and_sender_faults_answer_their_graph_code(
    make_client, fault, code, counter
):
    async with make_client(**fault) as client:
        response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

        assert response.status_code == 400
        assert response.json()["error"]["code"] == code
        assert (await stats(client))[counter] == 1
        assert len(provider_of(client).log) == 0


async def test_locked_sender_wins_over_spam_limit_and_recipient_faults(make_client):
    faults = {
        "locked_senders": ["1234567890"],
        "spam_senders": ["1234567890"],
        "permanent_numbers": ["5511987654321"],
    }
    async with make_client(**faults) as client:
        response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        other = await client.post(
            "/v21.0/999/messages", json=cloud_message(to="5511900000001"), headers=CLOUD_AUTH
        )

    assert response.json()["error"]["code"] == 131031
    assert other.status_code == 200


async def test_template_goes_through_to_a_recipient_outside_the_24h_window(make_client):
    template = {
        "messaging_product": "whatsapp",
        "to": "5511987654321",
        "type": "template",
        "template": {"name": "plantao_disponivel", "language": {"code": "pt_BR"}},
    }
    async with make_client(template_required_numbers=["5511987654321"]) as client:
        await client.post(
            "/_sim/templates",
            json={"name": "plantao_disponivel", "body": "Temos um plantão para você."},
        )
        response = await client.post(CLOUD_URL, json=template, headers=CLOUD_AUTH)
        (send,) = (await client.get("/_sim/sends")).json()

    assert response.status_code == 200
    assert send["body"] == "Temos um plantão para você."
    assert send["template"] == "plantao_disponivel/pt_BR"


async def test_injected_5xx_is_500_graph_code_2(make_client):
    async with make_client(error_5xx_rate=1.0) as client:
        response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == 2
