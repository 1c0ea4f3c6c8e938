"""Reading a doctor's whole record is an access to personal data: the export (a GET) and the
erasure are in campaign-api's audit trail with the contact id, never the phone."""

from disparo_campaign_api.testing import AUTH, api_client


async def test_the_export_and_the_erasure_are_audited_with_the_contact_id(kernel_settings):
    async with api_client(kernel_settings) as client:
        created = await client.post(
            "/v1/contacts", json={"phone": "+5511987650777", "name": "Ana"}, headers=AUTH
        )
        contact_id = created.json()["id"]
        exported = await client.get(f"/v1/contacts/{contact_id}/export", headers=AUTH)
        assert exported.status_code == 200
        await client.get(f"/v1/contacts/{contact_id}", headers=AUTH)  # a plain read is not
        erased = await client.delete(f"/v1/contacts/{contact_id}", headers=AUTH)
        assert erased.status_code == 200
        trail = await client.get("/v1/audit", params={"contact_id": contact_id}, headers=AUTH)
    entries = trail.json()["items"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("DELETE", f"/v1/contacts/{contact_id}", 200),
        ("GET", f"/v1/contacts/{contact_id}/export", 200),
    ]
    assert "5511987650777" not in str(entries)
