"""The filter language: validation names the bad node; compilation never inlines a value."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disparo_campaign_api.segments.filters import (
    DaysAgo,
    FilterError,
    Group,
    Parameters,
    audience_condition,
    compile_filter,
    filter_to_json,
    parse_filter,
)
from disparo_campaign_api.segments.predefined import PREDEFINED

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def compiled(raw, now=NOW):
    params = Parameters()
    return compile_filter(parse_filter(raw), now, params), params.values


def error_of(raw) -> FilterError:
    with pytest.raises(FilterError) as info:
        parse_filter(raw)
    return info.value


def test_nested_groups_compile_to_and_or_with_parameters():
    sql, values = compiled(
        {
            "all": [
                {"field": "specialty", "op": "in", "value": ["Anestesiologia"]},
                {
                    "any": [
                        {"field": "region", "op": "eq", "value": "ABC"},
                        {"field": "interactions", "op": "gte", "value": 3},
                    ]
                },
            ]
        }
    )
    assert (
        sql
        == "(c.specialty = ANY($1::text[]) AND (c.region = $2::text OR c.interactions >= $3::int))"
    )
    assert values == [["Anestesiologia"], "ABC", 3]


def test_parameters_continue_after_fixed_ones():
    params = Parameters(first_index=3)
    sql = compile_filter(
        parse_filter({"field": "status", "op": "eq", "value": "active"}), NOW, params
    )
    assert sql == "c.status = $3::text"


def test_audience_always_excludes_opted_out():
    params = Parameters()
    sql = audience_condition(parse_filter({"all": []}), NOW, params)
    assert sql == "c.opted_out_at IS NULL AND TRUE"


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [
        (
            {"field": "specialty", "op": "neq", "value": "X"},
            "c.specialty IS DISTINCT FROM $1::text",
        ),
        (
            {"field": "region", "op": "not_in", "value": ["X"]},
            "NOT coalesce(c.region = ANY($1::text[]), false)",
        ),
        ({"field": "tags", "op": "any", "value": ["a"]}, "c.tags && $1::text[]"),
        ({"field": "tags", "op": "all", "value": ["a", "b"]}, "c.tags @> $1::text[]"),
        (
            {"field": "tags", "op": "none", "value": ["a"]},
            "NOT coalesce(c.tags && $1::text[], false)",
        ),
        ({"field": "interactions", "op": "lt", "value": 2}, "c.interactions < $1::int"),
        (
            {"field": "last_contact_at", "op": "before", "value": "2026-01-01"},
            "c.last_contact_at < $1::timestamptz",
        ),
        (
            {"field": "created_at", "op": "after", "value": {"days_ago": 7}},
            "c.created_at >= $1::timestamptz",
        ),
        ({"field": "last_contact_at", "op": "exists", "value": False}, "c.last_contact_at IS NULL"),
        (
            {"field": "attributes.crm_uf", "op": "eq", "value": "SP"},
            "c.attributes @> jsonb_build_object($1::text, $2::jsonb)",
        ),
        (
            {"field": "attributes.crm_uf", "op": "in", "value": ["SP", "RJ"]},
            "$1::jsonb @> jsonb_build_array(c.attributes -> $2::text)",
        ),
        ({"field": "attributes.crm_uf", "op": "exists", "value": True}, "c.attributes ? $1::text"),
    ],
)
def test_every_operator_compiles(leaf, expected):
    assert compiled(leaf)[0] == expected


def test_relative_dates_are_evaluated_with_the_given_now():
    raw = {"field": "last_contact_at", "op": "before", "value": {"days_ago": 30}}
    assert compiled(raw, NOW)[1] == [NOW - timedelta(days=30)]
    later = NOW + timedelta(days=10)
    assert compiled(raw, later)[1] == [later - timedelta(days=30)]
    assert filter_to_json(parse_filter(raw)) == raw  # stays relative when stored


def test_dates_without_zone_are_read_in_sao_paulo():
    _, values = compiled({"field": "created_at", "op": "after", "value": "2026-03-01"})
    assert values[0].isoformat() == "2026-03-01T00:00:00-03:00"
    _, values = compiled({"field": "created_at", "op": "after", "value": "2026-03-01T10:00:00Z"})
    assert values[0] == datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "path", "reason_part"),
    [
        ({"field": "salary", "op": "eq", "value": 1}, "filter.field", "unknown field 'salary'"),
        (
            {
                "all": [
                    {"field": "region", "op": "eq", "value": "ABC"},
                    {"field": "specialty", "op": "like", "value": "A%"},
                ]
            },
            "filter.all[1].op",
            "unknown operator 'like'",
        ),
        ({"field": "tags", "op": "eq", "value": "x"}, "filter.op", "allowed: any, all, none"),
        ({"field": "interactions", "op": "gte", "value": "3"}, "filter.value", "whole number"),
        ({"field": "interactions", "op": "gte", "value": True}, "filter.value", "whole number"),
        ({"field": "tags", "op": "any", "value": []}, "filter.value", "non-empty list"),
        (
            {"field": "created_at", "op": "after", "value": "yesterday"},
            "filter.value",
            "not an ISO date",
        ),
        (
            {"field": "created_at", "op": "after", "value": {"days_ago": -1}},
            "filter.value.days_ago",
            "0 to",
        ),
        (
            {"field": "created_at", "op": "after", "value": {"weeks_ago": 1}},
            "filter.value",
            "days_ago",
        ),
        ({"field": "attributes.a-b", "op": "eq", "value": 1}, "filter.field", "attribute names"),
        (
            {"field": "attributes.x", "op": "eq", "value": {"a": 1}},
            "filter.value",
            "text, a number",
        ),
        ({"field": "region", "op": "eq"}, "filter.value", "required"),
        ({"field": "region", "op": "eq", "value": "x", "extra": 1}, "filter.extra", "unknown key"),
        ({"any": []}, "filter.any", "at least one"),
        ({"all": {}}, "filter.all", "list"),
        ({"all": [], "any": []}, "filter", "exactly one key"),
        ({"not": {}}, "filter", "unknown filter node"),
        ([1], "filter", "must be an object"),
        (
            {"any": [{"all": [{"field": "region", "op": "in", "value": [1]}]}]},
            "filter.any[0].all[0].value[0]",
            "must be text",
        ),
    ],
)
def test_invalid_filters_name_the_offending_node(raw, path, reason_part):
    error = error_of(raw)
    assert error.path == path
    assert reason_part in error.reason


def test_depth_and_size_are_bounded():
    deep = {"field": "region", "op": "eq", "value": "x"}
    for _ in range(12):
        deep = {"all": [deep]}
    assert "nest at most" in error_of(deep).reason
    wide = {"any": [{"field": "region", "op": "eq", "value": "x"}] * 101}
    assert "at most 100 conditions" in error_of(wide).reason


def test_predefined_segments_parse_and_inactive_means_old_or_never_for_an_old_contact():
    for segment in PREDEFINED.values():
        parse_filter(segment.filter)
    inactive = parse_filter(PREDEFINED["inactive_30d"].filter)
    assert isinstance(inactive, Group) and inactive.kind == "any"
    sql, values = compiled(PREDEFINED["inactive_30d"].filter)
    assert sql == (
        "(c.last_contact_at < $1::timestamptz"
        " OR (c.last_contact_at IS NULL AND c.created_at < $2::timestamptz))"
    )
    assert values == [NOW - timedelta(days=30), NOW - timedelta(days=30)]
    assert parse_filter(PREDEFINED["new_7d"].filter).value == DaysAgo(7)


# --- property: whatever a caller sends, values never reach the SQL text ---------------------

_text = st.text(min_size=1, max_size=30)
_scalar = st.one_of(_text, st.integers(-(10**6), 10**6), st.booleans())
_leaf = st.one_of(
    st.builds(
        lambda f, o, v: {"field": f, "op": o, "value": v},
        st.sampled_from(["specialty", "region", "status"]),
        st.sampled_from(["eq", "neq"]),
        _text,
    ),
    st.builds(
        lambda f, v: {"field": f, "op": "in", "value": v},
        st.sampled_from(["specialty", "region"]),
        st.lists(_text, min_size=1, max_size=3),
    ),
    st.builds(
        lambda o, v: {"field": "tags", "op": o, "value": v},
        st.sampled_from(["any", "all", "none"]),
        st.lists(_text, min_size=1, max_size=3),
    ),
    st.builds(
        lambda o, v: {"field": "interactions", "op": o, "value": v},
        st.sampled_from(["eq", "gte", "lt"]),
        st.integers(0, 10**6),
    ),
    st.builds(
        lambda n, v: {"field": f"attributes.{n}", "op": "eq", "value": v},
        st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
        _scalar,
    ),
    st.builds(
        lambda d: {"field": "created_at", "op": "after", "value": {"days_ago": d}},
        st.integers(0, 3650),
    ),
)
_filters = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=4)),
        st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=4)),
    ),
    max_leaves=20,
)
_SQL_TOKENS = re.compile(
    r"\$\d+::(text\[\]|text|int|jsonb|timestamptz)|c\.(specialty|region|status|tags|interactions|"
    r"last_contact_at|created_at|attributes)|jsonb_build_object|jsonb_build_array|coalesce|"
    r"IS DISTINCT FROM|IS NOT NULL|IS NULL|ANY|AND|OR|NOT|TRUE|false|->|@>|&&|>=|<=|[=<>?(),]|\s+"
)


@settings(max_examples=300, deadline=None)
@given(_filters)
def test_compiled_sql_holds_only_whitelisted_tokens_and_placeholders(raw):
    params = Parameters()
    sql = compile_filter(parse_filter(raw), NOW, params)
    assert _SQL_TOKENS.sub("", sql) == "", sql
    assert len(re.findall(r"\$\d+", sql)) == len(params.values)
