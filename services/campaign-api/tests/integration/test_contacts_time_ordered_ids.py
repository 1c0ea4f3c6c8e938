"""Contacts get time-ordered ids (UUIDv7 layout): an import's rows land at the right edge of the
primary key instead of on random leaves, and ids sort by creation."""

import uuid

from disparo_campaign_api.contacts.fake import generate_contacts_csv
from disparo_campaign_api.testing import AUTH, api_client

CSV = {**AUTH, "Content-Type": "text/csv"}
IDS = "SELECT array_agg(id) FROM campaign_api.contacts"


async def test_imported_contacts_get_ids_ordered_by_creation(kernel_settings, db):
    imports: list[set[uuid.UUID]] = []
    async with api_client(kernel_settings) as client:
        for seed in (1, 2):  # two imports, the second later
            body = "".join(generate_contacts_csv(50, seed=seed)).encode()
            answer = await client.post("/v1/contacts/import", content=body, headers=CSV)
            assert answer.status_code == 200, answer.text
            ids = {uuid.UUID(str(i)) for i in await db.fetchval(IDS)}
            imports.append(ids - set().union(*imports))
            await db.execute("SELECT pg_sleep(0.002)")  # the next import, a later millisecond
    first, second = imports
    assert len(first) == len(second) == 50
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in first | second)
    assert max(first) < min(second)
