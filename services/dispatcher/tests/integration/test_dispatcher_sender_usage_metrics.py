"""Each sender's use of its limits on /metrics: sends today against its daily cap (from the
replica holding it), and how many doctors a Cloud number's portfolio reached in 24 h (its
messaging tier's limit is ``disparo_dispatcher_sender_messaging_tier_recipients``)."""

from dispatcher_harness import (
    cloud_sender,
    dispatcher,
    evolution_sender,
    message,
    phone,
    request,
    simulator,
    states,
)
from prometheus_client.parser import text_string_to_metric_families

from disparo_shared.testing.fixtures import eventually


def gauges(text: str, name: str) -> dict[str, float]:
    """The samples of gauge ``name`` by sender, from a Prometheus exposition."""
    return {
        sample.labels["sender"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
    }


async def test_senders_report_their_sends_today_against_cap_and_tier(kernel_settings, db):
    async with simulator() as sim:
        capped = evolution_sender(sim, "capped-1", daily_limit=10)
        async with dispatcher(kernel_settings, [capped], metrics_refresh_seconds=0.1) as client:
            await request(kernel_settings.nats, *(message(phone(i)) for i in range(3)))

            async def all_sent() -> bool:
                return (await states(db)).get("sent") == 3

            await eventually(all_sent, timeout=20)
            # A Cloud number, added once the sends are done (it would hold cold doctors for
            # a template): its portfolio's reach is read from the tables, held or not.
            cloud = cloud_sender(sim, "cloud-1", "1001", waba_id="waba-1")
            added = await client.post(
                "/v1/senders",
                json={**cloud.model_dump(mode="json"), "credential_ref": "env:SIM_CLOUD_TOKEN"},
            )
            assert added.status_code == 201, added.text

            async def reported() -> str | None:
                text = (await client.get("/metrics")).text
                sent = gauges(text, "disparo_dispatcher_sender_sent_today")
                reach = gauges(text, "disparo_dispatcher_sender_portfolio_recipients_24h")
                return text if sent.get("capped-1") == 3 and "cloud-1" in reach else None

            text = await eventually(reported, timeout=20)
    assert gauges(text, "disparo_dispatcher_sender_daily_cap") == {"capped-1": 10}
    assert gauges(text, "disparo_dispatcher_sender_portfolio_recipients_24h") == {"cloud-1": 0}
