"""A large import leaves contacts vacuumed and analysed: segment counts are index-only at once."""

from disparo_campaign_api.contacts import bulk_import as contacts_import
from disparo_campaign_api.contacts.fake import generate_contacts_csv
from disparo_campaign_api.testing import AUTH, api_client

CSV = {**AUTH, "Content-Type": "text/csv"}


async def _last_vacuum(db):
    return await db.fetchval(
        "SELECT pg_stat_get_last_vacuum_time('campaign_api.contacts'::regclass)"
    )


async def test_large_import_vacuums_contacts(kernel_settings, db, monkeypatch):
    monkeypatch.setattr(contacts_import, "VACUUM_AFTER_ROWS", 100)
    body = "".join(generate_contacts_csv(150, seed=3)).encode()
    async with api_client(kernel_settings) as client:
        answer = await client.post("/v1/contacts/import", content=body, headers=CSV)
    assert answer.status_code == 200, answer.text
    assert answer.json()["inserted"] == 150
    assert await _last_vacuum(db) is not None


async def test_small_import_leaves_vacuum_to_autovacuum(kernel_settings, db, monkeypatch):
    monkeypatch.setattr(contacts_import, "VACUUM_AFTER_ROWS", 1000)
    body = "".join(generate_contacts_csv(150, seed=3)).encode()
    async with api_client(kernel_settings) as client:
        answer = await client.post("/v1/contacts/import", content=body, headers=CSV)
    assert answer.status_code == 200, answer.text
    assert await _last_vacuum(db) is None
