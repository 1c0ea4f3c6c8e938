"""Nested AND/OR filters over HTTP, as the console's builder sends them: the preview counts
them, a saved segment keeps them, and a filter nested too deep or too big is refused with a 422
naming the node."""

from disparo_campaign_api.segments.filters import MAX_DEPTH, MAX_NODES
from disparo_campaign_api.testing import AUTH, api_client

DOCTORS = [  # phone, region, tags, interactions
    ("+5511987650001", "ABC", ["noturno"], 0),
    ("+5511987650002", "ABC", [], 4),
    ("+5511987650003", "ABC", [], 0),
    ("+5511987650004", "Centro", ["noturno"], 5),
    ("+5511987650005", "Centro", [], 9),
]
# ABC and (tagged noturno or (at least 3 interactions and not tagged noturno))
NESTED = {"all": [
    {"field": "region", "op": "eq", "value": "ABC"},
    {"any": [{"field": "tags", "op": "any", "value": ["noturno"]},
             {"all": [{"field": "interactions", "op": "gte", "value": 3},
                      {"field": "tags", "op": "none", "value": ["noturno"]}]}]},
]}  # fmt: skip


async def test_nested_groups_count_save_and_refuse_naming_the_bad_node(kernel_settings, db):
    await db.executemany(
        "INSERT INTO campaign_api.contacts (phone, region, tags, interactions)"
        " VALUES ($1, $2, $3, $4)",
        DOCTORS,
    )
    async with api_client(kernel_settings) as client:
        preview = await client.post("/v1/segments/preview", headers=AUTH, json={"filter": NESTED})
        assert preview.status_code == 200, preview.text
        assert preview.json()["count"] == 2  # 0001 (noturno) and 0002 (4 interactions)

        saved = await client.post(
            "/v1/segments", headers=AUTH, json={"name": "ABC engajados", "filter": NESTED}
        )
        assert saved.status_code == 201, saved.text
        assert saved.json()["filter"] == NESTED
        by_id = await client.post(
            "/v1/segments/preview", headers=AUTH, json={"segment_id": saved.json()["id"]}
        )
        assert by_id.json()["count"] == 2

        bad_leaf = {"all": [NESTED["all"][0], {"any": [{"all": [
            {"field": "interactions", "op": "gte", "value": "três"}]}]}]}  # fmt: skip
        refused = await client.post("/v1/segments/preview", headers=AUTH, json={"filter": bad_leaf})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "filter.all[1].any[0].all[0].value"

        deep: dict = {"field": "region", "op": "eq", "value": "ABC"}
        for _ in range(MAX_DEPTH + 1):
            deep = {"any": [deep]}
        too_deep = await client.post("/v1/segments/preview", headers=AUTH, json={"filter": deep})
        assert too_deep.status_code == 422
        error = too_deep.json()["errors"][0]
        assert error["field"] == "filter" + ".any[0]" * (MAX_DEPTH + 1)
        assert "nest at most" in error["reason"]

        bomb = {"all": [{"all": []} for _ in range(MAX_NODES + 1)]}
        too_big = await client.post(
            "/v1/segments", headers=AUTH, json={"name": "x", "filter": bomb}
        )
        assert too_big.status_code == 422
        assert "at most" in too_big.json()["errors"][0]["reason"]
