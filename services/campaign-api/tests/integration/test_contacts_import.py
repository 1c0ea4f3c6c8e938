"""Bulk import over HTTP against real Postgres: CSV and JSON, bad rows, dedupe, opt-out kept."""

import asyncio
import json
from datetime import UTC, datetime

from disparo_campaign_api.contacts.bulk_import import CsvContacts, import_contacts, parse_stream
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_campaign_api.spec import SPEC
from disparo_campaign_api.testing import AUTH, api_client
from disparo_shared.db import create_pool
from disparo_shared.testing.fixtures import eventually

CSV = {**AUTH, "Content-Type": "text/csv"}
JSON = {**AUTH, "Content-Type": "application/json"}


async def _contact(db, phone: str):
    return await db.fetchrow("SELECT * FROM campaign_api.contacts WHERE phone = $1", phone)


async def test_csv_import_keeps_valid_rows_and_reports_bad_ones(kernel_settings, db):
    text = (
        "nome;telefone;especialidade;região;tags;crm_uf\n"
        "Ana Souza;(11) 98765-4321;Anestesiologia;ABC;disponível|noturno;SP\n"
        "Bruno Lima;12345;Pediatria;Campinas;;SP\n"
        '"Carla ""Cacá"" Dias";+55 21 99876-5432;Clínica Médica;Rio;;"R\nJ"\n'
        "Daniel;;Cardiologia;ABC;;SP\n"
        "\n"
        "Eva;(19) 99123-4567;Pediatria;Campinas;;SP;extra\n"
    )
    # Rows are records, as a spreadsheet shows them: the header is row 1, Carla's two-line
    # record is row 4, the blank line row 6.
    async with api_client(kernel_settings) as client:
        answer = await client.post("/v1/contacts/import", content=text.encode(), headers=CSV)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["received"] == 5
        assert result["inserted"] == 2
        assert result["invalid"] == 3
        assert [(e["row"], e["field"]) for e in result["errors"]] == [
            (3, "phone"),
            (5, "phone"),
            (7, "row"),
        ]
        ana = await _contact(db, "+5511987654321")
        assert ana["name"] == "Ana Souza"
        assert ana["region"] == "ABC"
        assert ana["tags"] == ["disponível", "noturno"]
        assert json.loads(ana["attributes"]) == {"crm_uf": "SP"}
        carla = await _contact(db, "+5521998765432")
        assert carla["name"] == 'Carla "Cacá" Dias'
        assert json.loads(carla["attributes"]) == {"crm_uf": "R\nJ"}


async def test_json_array_and_ndjson_imports(kernel_settings, db):
    rows = [
        {
            "phone": "11987654321",
            "name": "Ana",
            "tags": ["a"],
            "attributes": {"crm": "1"},
            "hospital": "HC",
        },
        {"phone": "nope", "name": "Bad"},
        "not an object",
        {"telefone": "+55 31 99888-7766", "especialidade": "Pediatria", "status": "inactive"},
    ]
    async with api_client(kernel_settings) as client:
        answer = await client.post(
            "/v1/contacts/import", content=json.dumps(rows).encode(), headers=JSON
        )
        result = answer.json()
        assert (result["received"], result["inserted"], result["invalid"]) == (4, 2, 2)
        assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "phone"), (3, "row")]
        ana = await _contact(db, "+5511987654321")
        assert json.loads(ana["attributes"]) == {"crm": "1", "hospital": "HC"}
        assert (await _contact(db, "+5531998887766"))["status"] == "inactive"

        ndjson = (
            '{"phone": "11987654321", "name": "Ana Maria"}\n{broken\n\n{"phone": "11 3333-4444"}\n'
        )
        answer = await client.post(
            "/v1/contacts/import",
            content=ndjson.encode(),
            headers={**AUTH, "Content-Type": "application/x-ndjson"},
        )
        result = answer.json()
        assert (result["received"], result["inserted"], result["updated"], result["invalid"]) == (
            3,
            1,
            1,
            1,
        )
        assert result["errors"][0]["row"] == 2
        assert (await _contact(db, "+5511987654321"))["name"] == "Ana Maria"


async def test_ninth_digit_forms_are_one_contact_and_last_row_wins(kernel_settings, db):
    text = (
        "phone,name,specialty\n"
        "(11) 8765-4321,Old Form,Pediatria\n"
        "+55 11 98765-4321,New Form,\n"
        "5511987654321,Last Row,Cardiologia\n"
    )
    async with api_client(kernel_settings) as client:
        result = (
            await client.post("/v1/contacts/import", content=text.encode(), headers=CSV)
        ).json()
        assert (result["received"], result["inserted"], result["duplicates"]) == (3, 1, 2)
        assert await db.fetchval("SELECT count(*) FROM campaign_api.contacts") == 1
        contact = await _contact(db, "+5511987654321")
        assert (contact["name"], contact["specialty"]) == ("Last Row", "Cardiologia")


async def test_import_across_batches_updates_and_never_undoes_an_opt_out(kernel_settings, db):
    # One writer, so the batches follow the file's order: with two, which rows share Doc 0's
    # batches depends on the process's string hashes, and its repeat could land in the batch
    # still holding the first (then counted as a duplicate in the file, not as unchanged).
    settings = CampaignApiSettings(import_batch_size=2, import_writers=1)
    async with api_client(kernel_settings, settings) as client:
        contact = (
            await client.post(
                "/v1/contacts", json={"phone": "11987654321", "status": "inactive"}, headers=AUTH
            )
        ).json()
        await client.post(
            f"/v1/contacts/{contact['id']}/opt-out", json={"reason": "LGPD"}, headers=AUTH
        )
        text = "phone,name,status\n" + "".join(f"1198765{i:04d},Doc {i},active\n" for i in range(5))
        text += "11987654321,Renamed,active\n11987650000,Doc 0,active\n"
        result = (
            await client.post("/v1/contacts/import", content=text.encode(), headers=CSV)
        ).json()
        assert result["received"] == 7
        assert result["inserted"] == 5
        assert result["updated"] == 1  # the opted-out contact, renamed
        assert result["unchanged"] == 1  # Doc 0 again, in a later batch, identical
        opted_out = await _contact(db, "+5511987654321")
        assert opted_out["name"] == "Renamed"
        assert opted_out["opted_out_at"] is not None
        assert opted_out["opt_out_reason"] == "LGPD"


async def test_import_answers_errors_capped_but_counted(kernel_settings):
    settings = CampaignApiSettings(import_max_listed_errors=2)
    text = "phone\n" + "bad\n" * 5
    async with api_client(kernel_settings, settings) as client:
        result = (
            await client.post("/v1/contacts/import", content=text.encode(), headers=CSV)
        ).json()
        assert result["invalid"] == 5
        assert len(result["errors"]) == 2
        assert result["errors_truncated"] is True


async def test_import_refuses_unknown_media_type_and_csv_without_phone(kernel_settings):
    async with api_client(kernel_settings) as client:
        xml = await client.post(
            "/v1/contacts/import",
            content=b"<x/>",
            headers={**AUTH, "Content-Type": "application/xml"},
        )
        assert xml.status_code == 415
        no_phone = await client.post("/v1/contacts/import", content=b"name\nAna\n", headers=CSV)
        assert no_phone.status_code == 422
        assert no_phone.json()["errors"][0]["field"] == "columns"


async def test_import_with_idempotency_key_replays_the_counts(kernel_settings):
    text = b"phone\n11987654321\n"
    headers = {**CSV, "Idempotency-Key": "imp-1"}
    async with api_client(kernel_settings) as client:
        first = (await client.post("/v1/contacts/import", content=text, headers=headers)).json()
        again = await client.post("/v1/contacts/import", content=text, headers=headers)
        assert again.json() == first
        assert again.headers["Idempotent-Replayed"] == "true"
        other = await client.post(
            "/v1/contacts/import", content=b"phone\n11987654322\n", headers=headers
        )
        assert other.status_code == 422


async def test_batches_of_one_keep_empty_cells_and_clear_tags_given_as_none(kernel_settings, db):
    # A batch of one row travels as one value per column: an empty tag list must stay a value.
    settings = CampaignApiSettings(import_batch_size=1)
    async with api_client(kernel_settings, settings) as client:
        first = "phone,name,tags,crm_uf\n11987654321,Ana,a|b,SP\n21988887777,Bruno,c,RJ\n"
        await client.post("/v1/contacts/import", content=first.encode(), headers=CSV)
        again = "phone,name,tags,crm_uf\n11987654321,,|,\n21988887777,,,\n"
        result = (
            await client.post("/v1/contacts/import", content=again.encode(), headers=CSV)
        ).json()
        assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 1, 1)
        ana = await _contact(db, "+5511987654321")
        assert (ana["name"], ana["tags"], json.loads(ana["attributes"])) == (
            "Ana",
            [],
            {"crm_uf": "SP"},
        )
        bruno = await _contact(db, "+5521988887777")
        assert (bruno["name"], bruno["tags"]) == ("Bruno", ["c"])


async def test_a_phone_another_writer_commits_meanwhile_is_updated_not_skipped(kernel_settings, db):
    async def body():
        yield b"phone,name\n11987654321,Imported\n21988887777,Bruno\n"

    pool = await create_pool(kernel_settings.database, SPEC.schema)
    try:
        async with db.transaction():
            await db.execute(
                "INSERT INTO campaign_api.contacts (phone, name) VALUES ('+5511987654321', 'API')"
            )
            importing = asyncio.create_task(
                import_contacts(
                    pool,
                    parse_stream(body(), CsvContacts(10_000)),
                    batch_size=100,
                    max_listed_errors=10,
                    at=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
                )
            )
            # the import's INSERT waits for this transaction to decide on the same phone
            await eventually(
                lambda: db.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted"
                )
            )
        result = await importing
    finally:
        await pool.close()
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    assert (await _contact(db, "+5511987654321"))["name"] == "Imported"
    assert (await _contact(db, "+5521988887777"))["name"] == "Bruno"
