"""The control API: sends, stats (duplicates, peaks, violations), config, faults and reset."""

from sim_helpers import CLOUD_AUTH, CLOUD_URL, cloud_message, stats


async def test_same_message_id_accepted_twice_counts_one_duplicate(client, clock):
    headers = {**CLOUD_AUTH, "X-Disparo-Message-Id": "msg-1"}
    await client.post(CLOUD_URL, json=cloud_message(), headers=headers)
    clock.advance(10)
    await client.post(CLOUD_URL, json=cloud_message(), headers=headers)
    await client.post(
        CLOUD_URL,
        json=cloud_message(to="5511900000002"),
        headers={**CLOUD_AUTH, "X-Disparo-Message-Id": "msg-2"},
    )

    counts = await stats(client)

    assert counts["accepted"] == 3
    assert counts["duplicates"] == 1


async def test_max_per_second_is_the_peak_of_any_sliding_one_second_window(client, clock):
    # 3 sends in [0, 0.4], then 4 in [0.9, 1.2]: the window (0.2, 1.2] holds 0.3, 0.4 and all
    # four later ones = 6, more than any window aligned on whole seconds would show.
    for offset in (0.0, 0.3, 0.4, 0.9, 1.0, 1.1, 1.2):
        clock.now = 1000.0 + offset
        await client.post(
            "/v21.0/peak-number/messages",
            json=cloud_message(to=f"55119{int(offset * 10):08d}"),
            headers=CLOUD_AUTH,
        )

    by_sender = (await stats(client))["by_sender"]

    assert by_sender["peak-number"] == {"accepted": 7, "max_per_second": 6, "violations": 0}


async def test_sends_are_filtered_and_limited_to_the_newest(client, clock):
    for index in range(5):
        await client.post(
            CLOUD_URL, json=cloud_message(to=f"551190000000{index}"), headers=CLOUD_AUTH
        )
    await client.post("/v21.0/other/messages", json=cloud_message(), headers=CLOUD_AUTH)

    newest_two = (await client.get("/_sim/sends", params={"limit": 2})).json()
    of_other = (await client.get("/_sim/sends", params={"sender": "other"})).json()
    to_third = (await client.get("/_sim/sends", params={"recipient": "5511900000002"})).json()

    assert [send["recipient"] for send in newest_two] == ["5511900000004", "5511987654321"]
    assert [send["sender"] for send in of_other] == ["other"]
    assert len(to_third) == 1


async def test_sends_are_read_in_pages_oldest_first(client, clock):
    for index in range(5):
        await client.post(
            CLOUD_URL, json=cloud_message(to=f"551190000000{index}"), headers=CLOUD_AUTH
        )

    pages = [
        (await client.get("/_sim/sends", params={"offset": offset, "count": 2})).json()
        for offset in (0, 2, 4, 6)
    ]

    assert [[send["recipient"][-1] for send in page] for page in pages] == [
        ["0", "1"],
        ["2", "3"],
        ["4"],
        [],
    ]
    refused = await client.get("/_sim/sends", params={"offset": -1})
    assert refused.status_code == 400


async def test_config_change_applies_at_once_and_keeps_other_fields(client):
    response = await client.put("/_sim/config", json={"rate_per_second": 1})

    assert response.json()["rate_per_second"] == 1
    assert response.json()["pair_spacing_seconds"] == 6.0
    await client.post(CLOUD_URL, json=cloud_message(to="5511900000001"), headers=CLOUD_AUTH)
    throttled = await client.post(
        CLOUD_URL, json=cloud_message(to="5511900000002"), headers=CLOUD_AUTH
    )
    assert throttled.json()["error"]["code"] == 130429


async def test_invalid_config_is_400_naming_the_field_and_changes_nothing(client):
    response = await client.put("/_sim/config", json={"read_probability": 2})
    unknown = await client.put("/_sim/config", json={"rate_per_minute": 2})

    assert response.status_code == 400
    assert response.json()["extra"][0]["field"] == "read_probability"
    assert unknown.status_code == 400
    assert unknown.json()["extra"][0]["field"] == "rate_per_minute"
    assert (await client.get("/_sim/config")).json()["read_probability"] == 0.5


async def test_faults_merge_on_put_and_clear_on_delete(client):
    await client.put("/_sim/faults", json={"error_5xx_rate": 0.1})
    merged = (await client.put("/_sim/faults", json={"timeout_rate": 0.02})).json()
    cleared = (await client.delete("/_sim/faults")).json()

    assert (merged["error_5xx_rate"], merged["timeout_rate"]) == (0.1, 0.02)
    assert (cleared["error_5xx_rate"], cleared["timeout_rate"]) == (0.0, 0.0)


async def test_invalid_latency_range_is_400_naming_the_field(client):
    response = await client.put("/_sim/faults", json={"latency_ms": [50, 10]})

    assert response.status_code == 400
    assert response.json()["extra"][0]["field"] == "latency_ms"


async def test_reset_clears_sends_and_stats_and_restores_the_settings_faults(make_client):
    async with make_client(permanent_numbers=["5511900000009"]) as client:
        await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        await client.delete("/_sim/faults")

        await client.post("/_sim/reset")

        assert (await client.get("/_sim/sends")).json() == []
        assert (await stats(client))["accepted"] == 0
        faults = (await client.get("/_sim/faults")).json()
        assert faults["permanent_numbers"] == ["5511900000009"]
        # the pair limit was forgotten too: the same recipient is accepted again at once
        again = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)
        assert again.status_code == 200


async def test_health_answers_ok(client):
    response = await client.get("/health")

    assert response.json() == {"status": "ok"}


async def test_webhook_url_set_at_runtime_survives_later_config_changes(client):
    await client.put("/_sim/config", json={"cloud_webhook_url": "http://127.0.0.1:9999/hook"})
    config = (await client.put("/_sim/config", json={"reply_probability": 0.3})).json()

    assert config["cloud_webhook_url"] == "http://127.0.0.1:9999/hook"
    assert config["reply_probability"] == 0.3
