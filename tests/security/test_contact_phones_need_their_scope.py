"""A key with contacts:read sees contacts with masked phones; contacts:phones shows them."""

from disparo_campaign_api.testing import AUTH, api_client
from disparo_shared.api_keys import ApiKeyEntry, hash_api_key
from disparo_shared.dev_secrets import TEST_API_KEY
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import HttpSettings

READER, PHONE_READER = "reader-key", "phone-reader-key"


async def test_phones_are_masked_without_the_phones_scope(kernel_settings: KernelSettings):
    kernel = KernelSettings(
        database=kernel_settings.database,
        nats=kernel_settings.nats,
        telemetry=kernel_settings.telemetry,
        deployment=kernel_settings.deployment,
        http=HttpSettings(
            api_keys=[
                TEST_API_KEY,
                ApiKeyEntry(
                    name="reader",
                    hash=hash_api_key("", READER),
                    scopes=frozenset({"contacts:read"}),
                ),
                ApiKeyEntry(
                    name="phones",
                    hash=hash_api_key("", PHONE_READER),
                    scopes=frozenset({"contacts:read", "contacts:phones"}),
                ),
            ]
        ),
    )
    async with api_client(kernel) as client:
        created = await client.post(
            "/v1/contacts", json={"phone": "+55 11 98765-4321", "name": "Ana"}, headers=AUTH
        )
        contact_id = created.json()["id"]
        for path in (f"/v1/contacts/{contact_id}", "/v1/contacts"):
            masked = (await client.get(path, headers={"X-API-Key": READER})).json()
            clear = (await client.get(path, headers={"X-API-Key": PHONE_READER})).json()
            masked = masked.get("items", [masked])[0]
            clear = clear.get("items", [clear])[0]
            assert clear["phone"] == "+5511987654321"
            assert masked["phone"] != clear["phone"] and "98765" not in masked["phone"]
        refused = await client.post(
            f"/v1/contacts/{contact_id}/opt-out",
            json={"reason": "x"},
            headers={"X-API-Key": PHONE_READER},
        )
        assert refused.status_code == 403
