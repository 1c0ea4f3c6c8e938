"""Segments against real Postgres: every field and operator, AND/OR, relative dates, opt-out."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from disparo_campaign_api.segments.handlers import (
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    predefined_segments_json,
    preview_segment,
    update_segment,
)
from disparo_shared.db import create_pool
from disparo_shared.problems import Problem
from disparo_shared.settings import DatabaseSettings

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)

# phone, name, specialty, region, tags, interactions, last contact (days ago), created (days ago),
# attributes, opted out
CONTACTS = [
    (
        "+5511900000001",
        "Ana Souza",
        "Anestesiologia",
        "ABC",
        ["disponível", "plantão"],
        5,
        2,
        1,
        {"crm_uf": "SP"},
        False,
    ),
    (
        "+5511900000002",
        "Bruno Lima",
        "Anestesiologia",
        "ABC",
        ["plantão"],
        0,
        None,
        40,
        {"crm_uf": "RJ"},
        False,
    ),
    ("+5511900000003", "Carla Dias", "Cardiologia", "Capital", [], 3, 45, 100, {}, False),
    (
        "+5511900000004",
        "Davi Reis",
        "Anestesiologia",
        "ABC",
        ["disponível"],
        9,
        1,
        3,
        {"crm_uf": "SP"},
        True,
    ),
    ("+5511900000005", "Eva Melo", None, None, ["disponível"], 1, 31, 6, {"vip": True}, False),
]


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=4), "campaign_api"
    )
    yield pool
    await pool.close()


@pytest.fixture
async def contacts(pool) -> dict[str, UUID]:
    ids = {}
    for (
        phone,
        name,
        specialty,
        region,
        tags,
        interactions,
        last_days,
        created_days,
        attrs,
        opted,
    ) in CONTACTS:
        ids[name.split()[0]] = await pool.fetchval(
            "INSERT INTO contacts (phone, name, specialty, region, tags, interactions,"
            " last_contact_at, created_at, attributes, opted_out_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            phone,
            name,
            specialty,
            region,
            tags,
            interactions,
            NOW - timedelta(days=last_days) if last_days is not None else None,
            NOW - timedelta(days=created_days),
            attrs,
            NOW if opted else None,
        )
    return ids


async def names(pool, raw_filter=None, segment_id=None, now=NOW) -> set[str]:
    async with pool.acquire() as conn:
        result = await preview_segment(
            conn,
            segment_id=segment_id,
            raw_filter=raw_filter,
            max_per_day=None,
            now=now,
            send_rate_per_second=80.0,
        )
    got = {s["name"].split()[0] if s["name"] else None for s in result["sample"]}
    assert result["count"] == len(got)
    return got


CASES = [
    ({"all": []}, {"Ana", "Bruno", "Carla", "Eva"}),
    ({"field": "specialty", "op": "eq", "value": "Anestesiologia"}, {"Ana", "Bruno"}),
    ({"field": "specialty", "op": "neq", "value": "Anestesiologia"}, {"Carla", "Eva"}),
    ({"field": "region", "op": "in", "value": ["ABC", "Capital"]}, {"Ana", "Bruno", "Carla"}),
    ({"field": "region", "op": "not_in", "value": ["ABC"]}, {"Carla", "Eva"}),
    ({"field": "status", "op": "eq", "value": "active"}, {"Ana", "Bruno", "Carla", "Eva"}),
    ({"field": "tags", "op": "any", "value": ["disponível", "x"]}, {"Ana", "Eva"}),
    ({"field": "tags", "op": "all", "value": ["disponível", "plantão"]}, {"Ana"}),
    ({"field": "tags", "op": "none", "value": ["plantão"]}, {"Carla", "Eva"}),
    ({"field": "interactions", "op": "gte", "value": 3}, {"Ana", "Carla"}),
    ({"field": "interactions", "op": "lt", "value": 1}, {"Bruno"}),
    ({"field": "last_contact_at", "op": "before", "value": {"days_ago": 30}}, {"Carla", "Eva"}),
    ({"field": "last_contact_at", "op": "after", "value": {"days_ago": 30}}, {"Ana"}),
    ({"field": "last_contact_at", "op": "exists", "value": False}, {"Bruno"}),
    ({"field": "created_at", "op": "after", "value": "2026-11-19"}, {"Ana", "Eva"}),
    ({"field": "attributes.crm_uf", "op": "eq", "value": "SP"}, {"Ana"}),
    ({"field": "attributes.crm_uf", "op": "neq", "value": "SP"}, {"Bruno", "Carla", "Eva"}),
    ({"field": "attributes.crm_uf", "op": "in", "value": ["SP", "RJ"]}, {"Ana", "Bruno"}),
    ({"field": "attributes.vip", "op": "exists", "value": True}, {"Eva"}),
    ({"field": "attributes.vip", "op": "eq", "value": True}, {"Eva"}),
    (
        {
            "all": [
                {"field": "specialty", "op": "eq", "value": "Anestesiologia"},
                {"field": "region", "op": "eq", "value": "ABC"},
                {
                    "any": [
                        {"field": "tags", "op": "any", "value": ["disponível"]},
                        {"field": "last_contact_at", "op": "exists", "value": False},
                    ]
                },
            ]
        },
        {"Ana", "Bruno"},
    ),
]


async def test_filters_select_the_right_contacts_and_never_the_opted_out(pool, contacts):
    for raw, expected in CASES:  # one database for all cases keeps the suite quick
        assert await names(pool, raw) == expected, raw


async def test_predefined_segments_use_dates_of_the_moment(pool, contacts):
    assert await names(pool, segment_id="predefined:inactive_30d") == {"Bruno", "Carla", "Eva"}
    assert await names(pool, segment_id="predefined:new_7d") == {"Ana", "Eva"}
    assert await names(pool, segment_id="predefined:engaged") == {"Ana"}
    assert await names(pool, segment_id="predefined:anesthesiologists_abc") == {"Ana", "Bruno"}
    # ten days later Ana's last contact is 12 days old and Eva is no longer new
    later = NOW + timedelta(days=10)
    assert await names(pool, segment_id="predefined:new_7d", now=later) == set()
    assert await names(pool, segment_id="predefined:inactive_30d", now=later) == {
        "Bruno",
        "Carla",
        "Eva",
    }
    assert {s["id"] for s in predefined_segments_json()} >= {
        "predefined:inactive_30d",
        "predefined:engaged",
    }


async def test_preview_masks_phones_and_estimates(pool, contacts):
    async with pool.acquire() as conn:
        result = await preview_segment(
            conn,
            segment_id=None,
            raw_filter={"all": []},
            max_per_day=2,
            now=NOW,
            send_rate_per_second=80.0,
        )
    assert result["count"] == 4
    assert all("*" in s["phone"] and s["phone"].endswith(s["phone"][-2:]) for s in result["sample"])
    assert "+5511900000001" not in str(result)
    assert result["estimated_send_seconds"] == 86_400 + 1  # 2 a day: day 1, then 2 more


async def test_preview_rejects_bad_input_with_422(pool, contacts):
    async with pool.acquire() as conn:
        for kwargs, field in [
            (
                {"segment_id": None, "raw_filter": {"field": "cpf", "op": "eq", "value": "1"}},
                "filter.field",
            ),
            ({"segment_id": None, "raw_filter": None}, "segment_id"),
            ({"segment_id": "predefined:nope", "raw_filter": None}, "segment_id"),
            ({"segment_id": "not-a-uuid", "raw_filter": None}, "segment_id"),
        ]:
            with pytest.raises(Problem) as info:
                await preview_segment(
                    conn, max_per_day=None, now=NOW, send_rate_per_second=1.0, **kwargs
                )
            assert info.value.status_code == 422
            assert info.value.errors[0]["field"] == field


async def test_saved_segments_crud_and_use(pool, contacts):
    async with pool.acquire() as conn:
        seg = await create_segment(
            conn,
            name="ABC",
            description=None,
            now=NOW,
            raw_filter={"field": "region", "op": "eq", "value": "ABC"},
        )
        assert await names(pool, segment_id=seg["id"]) == {"Ana", "Bruno"}
        seg2 = await update_segment(
            conn,
            UUID(seg["id"]),
            now=NOW,
            changes={"filter": {"field": "region", "op": "eq", "value": "Capital"}},
        )
        assert seg2["name"] == "ABC" and seg2["filter"]["value"] == "Capital"
        assert await names(pool, segment_id=seg["id"]) == {"Carla"}
        page = await list_segments(conn, cursor=None, limit=10)
        assert [s["id"] for s in page["items"]] == [seg["id"]] and page["next_cursor"] is None
        await delete_segment(conn, UUID(seg["id"]))
        with pytest.raises(Problem) as info:
            await get_segment(conn, UUID(seg["id"]))
        assert info.value.status_code == 404
