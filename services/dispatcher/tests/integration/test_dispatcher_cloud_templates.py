"""The Cloud API for real: text inside the 24 h window, templates outside it, held when there is
none, template errors, Meta's marketing limit, and the registry synced over HTTP."""

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import aiohttp
from dispatcher_harness import (
    cloud_sender,
    collect,
    dispatcher,
    doctors_wrote,
    message,
    phone,
    request,
    simulator,
    states,
)

from disparo_dispatcher import templates
from disparo_shared.db import create_pool
from disparo_shared.events import MessageTemplate, TemplateParameter
from disparo_shared.settings import DatabaseSettings
from disparo_shared.testing.fixtures import eventually
from disparo_simulator.templates import TemplateSpec, TemplateStatus

WABA = "100000000000001"  # the simulator's default account
NUMBER = "100000000000011"
AVISO = MessageTemplate(
    name="plantao_aviso",
    language="pt_BR",
    parameters=[TemplateParameter(text="Dra. Ana"), TemplateParameter(text="cardiologia")],
)


def register(sim, name="plantao_aviso", body="Olá, {{1}}! Plantão de {{2}} amanhã.", **extra):
    sim.provider.templates.register(TemplateSpec(name=name, body=body, **extra), WABA)


async def row(db, message_id):
    return await db.fetchrow(
        "SELECT * FROM dispatcher.all_messages WHERE message_id = $1", message_id
    )


async def test_cold_doctors_get_the_template_warm_ones_the_text_and_none_is_held_visibly(
    kernel_settings, db
):
    cold, warm, no_template = phone(1), phone(2), phone(3)
    async with (
        simulator(cloud_require_window=True, pair_spacing_seconds=0) as sim,
        collect(kernel_settings.nats, "message.failed") as failed,
    ):
        register(sim)
        # The warm doctor wrote to the number: Meta (the simulator) and we both know it.
        sim.provider.windows.opened(NUMBER, warm.lstrip("+"), time.time())
        await doctors_wrote(db, "cloud-1", warm)
        async with dispatcher(kernel_settings, [cloud_sender(sim, "cloud-1", NUMBER)]):
            to_cold = message(cold, "Oi, Dra. Ana! Plantão amanhã?", template=AVISO)
            to_warm = message(warm, "Oi! Como combinamos, segue o plantão.", template=AVISO)
            held = message(no_template, "Oi! Plantão amanhã?")
            await request(kernel_settings.nats, to_cold, to_warm, held)

            async def settled():
                s = await states(db)
                return s.get("sent") == 2 and s.get("held") == 1 and failed

            await eventually(settled)
        received = {send.recipient: send for send in sim.sends()}
        held_row = await row(db, held.message_id)
    assert received[cold.lstrip("+")].body == "Olá, Dra. Ana! Plantão de cardiologia amanhã."
    assert received[cold.lstrip("+")].template == "plantao_aviso/pt_BR"
    assert received[warm.lstrip("+")].body == "Oi! Como combinamos, segue o plantão."
    assert received[warm.lstrip("+")].template is None
    assert no_template.lstrip("+") not in received  # the provider was never called
    assert held_row["last_error_code"] == "needs_template" and held_row["attempt"] == 0
    (event,) = failed
    assert event["message_id"] == str(held.message_id)
    assert event["error_code"] == "needs_template"
    assert event["retryable"] is True and event["final"] is False


async def test_a_window_closed_before_the_send_is_resent_as_the_template_for_no_attempt(
    kernel_settings, db
):
    doctor = phone(4)
    async with simulator(cloud_require_window=True, pair_spacing_seconds=0) as sim:
        register(sim)
        # We think the doctor wrote recently; Meta's window has closed (the simulator never saw
        # the message): the text gets 131047 and the template goes next.
        await doctors_wrote(db, "cloud-1", doctor)
        async with dispatcher(kernel_settings, [cloud_sender(sim, "cloud-1", NUMBER)]):
            raced = message(doctor, "Oi!", template=AVISO, max_attempts=1)
            await request(kernel_settings.nats, raced)

            async def sent():
                return (await states(db)).get("sent") == 1

            await eventually(sent)
        (send,) = sim.sends()
        raced_row = await row(db, raced.message_id)
    assert sim.stats()["template_required"] == 1
    assert send.template == "plantao_aviso/pt_BR"
    assert raced_row["attempt"] == 1  # the refused text cost nothing


async def test_a_paused_template_kills_the_message_and_holds_the_campaigns_others(
    kernel_settings, db
):
    campaign_id = uuid4()
    async with simulator(cloud_require_window=True, pair_spacing_seconds=0) as sim:
        register(sim, status=TemplateStatus.PAUSED)
        later = datetime.now(UTC) + timedelta(seconds=3)
        async with dispatcher(
            kernel_settings, [cloud_sender(sim, "cloud-1", NUMBER, waba_id=WABA)]
        ):
            first = message(phone(5), "Oi", template=AVISO, campaign_id=campaign_id)
            others = [
                message(
                    phone(6 + i), "Oi", template=AVISO, campaign_id=campaign_id, not_before=later
                )
                for i in range(3)
            ]
            await request(kernel_settings.nats, first, *others)

            async def stopped():
                s = await states(db)
                return s.get("dead") == 1 and s.get("held") == 3

            await eventually(stopped)
        first_row = await row(db, first.message_id)
        held = [await row(db, m.message_id) for m in others]
        registry = await db.fetchrow(
            "SELECT status FROM dispatcher.templates WHERE waba_id = $1 AND name = $2",
            WABA,
            "plantao_aviso",
        )
    assert first_row["last_error_code"] == "132015"
    assert {r["last_error_code"] for r in held} == {"template_paused"}
    assert all("paused" in r["last_error"] for r in held)
    assert registry["status"] == "PAUSED"
    assert sim.sends() == []


async def test_metas_marketing_limit_puts_the_message_off_a_day_without_an_attempt(
    kernel_settings, db
):
    doctor = phone(9)
    async with simulator(
        cloud_require_window=True, pair_spacing_seconds=0, marketing_limited_numbers=[doctor[1:]]
    ) as sim:
        register(sim)
        async with dispatcher(kernel_settings, [cloud_sender(sim, "cloud-1", NUMBER)]):
            limited = message(doctor, "Oi", template=AVISO)
            await request(kernel_settings.nats, limited)

            async def put_off():
                r = await row(db, limited.message_id)
                return r is not None and r["marketing_limit_retries"] == 1

            await eventually(put_off)
        put_off_row = await row(db, limited.message_id)
    assert put_off_row["state"] == "queued" and put_off_row["attempt"] == 0
    assert put_off_row["last_error_code"] == "131049"
    assert put_off_row["due_at"] > datetime.now(UTC) + timedelta(hours=23)


async def test_the_registry_is_synced_from_the_provider_and_listed(
    kernel_settings, database_url, db
):
    async with simulator() as sim:
        register(sim)
        register(sim, name="boas_vindas", body="Oi {{nome}}!", category="UTILITY")
        for n in range(120):  # more than one page of Meta's listing
            register(sim, name=f"extra_{n:03d}", body="Oi")
        seed = cloud_sender(sim, "cloud-1", NUMBER, waba_id=WABA)
        async with dispatcher(kernel_settings, [seed]) as client:

            async def seeded():
                return await db.fetchval(
                    "SELECT waba_id FROM dispatcher.senders WHERE sender_id = 'cloud-1'"
                )

            await eventually(seeded)
            # The route's own call, from this loop: the in-process simulator shares it, and the
            # test client blocks it while a request runs (e2e calls POST /v1/templates/sync).
            pool = await create_pool(
                DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "dispatcher"
            )
            try:
                async with aiohttp.ClientSession() as http:
                    synced = await templates.sync_accounts(pool, http, datetime.now(UTC))
            finally:
                await pool.close()
            listed = await client.get("/v1/templates", params={"name": "boas_vindas"})
            aviso = await client.get(
                "/v1/templates", params={"name": "plantao_aviso", "language": "pt_BR"}
            )
    assert synced == {WABA: 123}
    (welcome,) = listed.json()
    assert welcome["status"] == "APPROVED" and welcome["category"] == "UTILITY"
    assert welcome["parameter_format"] == "NAMED" and welcome["parameters"] == ["nome"]
    assert aviso.json()[0]["parameters"] == ["1", "2"]
