"""The console's doctor search (a name fragment or a phone) and the audience preview's
exclusions, over HTTP with the running app and real Postgres."""

from disparo_campaign_api.testing import AUTH, api_client

ABC = {"all": [{"field": "region", "op": "eq", "value": "ABC"}]}


async def _add(db, phone: str, name: str, region: str = "ABC", opted_out: bool = False) -> None:
    await db.execute(
        "INSERT INTO campaign_api.contacts (phone, name, specialty, region, opted_out_at)"
        " VALUES ($1, $2, 'Pediatria', $3, CASE WHEN $4 THEN now() END)",
        phone, name, region, opted_out,
    )  # fmt: skip


async def test_a_name_fragment_finds_doctors_anywhere_in_the_name_in_any_case(kernel_settings, db):
    await _add(db, "+5511987650001", "Dra. Ana Beatriz Silva")
    await _add(db, "+5511987650002", "Dr. João Silveira")
    await _add(db, "+5511987650003", "Dra. Carla 100%_certa")
    await _add(db, "+5511987650004", "Dr. Paulo Souza")
    async with api_client(kernel_settings) as client:

        async def names(q: str, **more: str) -> list[str]:
            answer = await client.get("/v1/contacts", headers=AUTH, params={"q": q, **more})
            assert answer.status_code == 200, answer.text
            return sorted(c["name"] for c in answer.json()["items"])

        assert await names("silv") == ["Dr. João Silveira", "Dra. Ana Beatriz Silva"]
        assert await names("ANA B") == ["Dra. Ana Beatriz Silva"]
        assert await names("%_") == ["Dra. Carla 100%_certa"]  # LIKE's wildcards are literal
        assert await names("silva", region="Centro") == []  # with the other filters, AND
        for refused in ("a", "an\x00a"):  # too short; a NUL Postgres cannot compare
            answer = await client.get("/v1/contacts", headers=AUTH, params={"q": refused})
            assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "q"


async def test_a_phone_in_any_usual_writing_finds_its_doctor(kernel_settings, db):
    await _add(db, "+5511987650001", "Dra. Ana")
    await _add(db, "+5511987650002", "Dr. João")
    async with api_client(kernel_settings) as client:
        for written in ("(11) 98765-0002", "+55 11 98765-0002", "5511987650002", "1187650002"):
            found = await client.get("/v1/contacts", headers=AUTH, params={"q": written})
            assert [c["name"] for c in found.json()["items"]] == ["Dr. João"], written
        for too_short in ("002", "+55 11 9876"):  # under 4 digits; a "+" starts a whole phone
            partial = await client.get("/v1/contacts", headers=AUTH, params={"q": too_short})
            assert partial.status_code == 422 and partial.json()["errors"][0]["field"] == "q"


async def test_the_last_digits_of_a_phone_find_the_doctors_whose_phone_ends_so(kernel_settings, db):
    await _add(db, "+5511987650001", "Dra. Ana")
    await _add(db, "+5511987650002", "Dr. João")
    await _add(db, "+5521900010002", "Dr. Rio")
    async with api_client(kernel_settings) as client:

        async def found(q: str) -> list[str]:
            answer = await client.get("/v1/contacts", headers=AUTH, params={"q": q})
            assert answer.status_code == 200, answer.text
            items = answer.json()["items"]
            return sorted(c["name"] for c in items)

        assert await found("0002") == ["Dr. João", "Dr. Rio"]
        assert await found("65-0002") == ["Dr. João"]  # separators ignored
        assert await found("98765-0001") == ["Dra. Ana"]  # a local number without its area
        assert await found("4321") == []
        assert await found("5-0001") == ["Dra. Ana"]


async def test_a_name_is_found_with_or_without_its_accents(kernel_settings, db):
    await _add(db, "+5511987650001", "Dr. João Conceição")
    await _add(db, "+5511987650002", "Dra. Mônica Araújo")
    await _add(db, "+5511987650003", "Dr. Joaquim")
    async with api_client(kernel_settings) as client:

        async def names(q: str) -> list[str]:
            answer = await client.get("/v1/contacts", headers=AUTH, params={"q": q})
            assert answer.status_code == 200, answer.text
            return sorted(c["name"] for c in answer.json()["items"])

        assert await names("Joao") == ["Dr. João Conceição"]
        assert await names("conceicao") == ["Dr. João Conceição"]
        assert await names("CONCEIÇÃO") == ["Dr. João Conceição"]
        assert await names("monica araujo") == ["Dra. Mônica Araújo"]
        assert await names("joã") == ["Dr. Joaquim", "Dr. João Conceição"]  # accents both ways


async def test_the_preview_says_how_many_the_filter_matched_and_why_some_are_left_out(
    kernel_settings, db
):
    for n in range(5):
        await _add(db, f"+55119876500{n:02d}", f"Dr. {n}")
    for n in range(5, 7):
        await _add(db, f"+55119876500{n:02d}", f"Dr. {n}", opted_out=True)
    await _add(db, "+5511987650099", "Dr. Longe", region="Centro", opted_out=True)
    async with api_client(kernel_settings) as client:
        answer = await client.post("/v1/segments/preview", headers=AUTH, json={"filter": ABC})
    body = answer.json()
    assert answer.status_code == 200, answer.text
    assert body["matched"] == 7 and body["count"] == 5
    assert body["excluded"] == [{"reason": "opted_out", "count": 2}]
