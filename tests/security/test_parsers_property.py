"""Property tests: whatever arrives, the parsers answer with their own error, never a crash."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from disparo_campaign_api.contacts.fields import (
    FieldError,
    clean_attributes,
    clean_tags,
    clean_text,
)
from disparo_campaign_api.pagination import decode_cursor
from disparo_campaign_api.segments.filters import FilterError, parse_filter
from disparo_shared.problems import Problem
from disparo_shared.text_input import JsonInputError, loads_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
)
filter_like = st.recursive(
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["specialty", "tags", "interactions", "attributes.crm", "x"]),
            "op": st.sampled_from(["eq", "in", "any", "gte", "exists", "nope"]),
            "value": json_values,
        }
    )
    | json_values,
    lambda children: st.dictionaries(
        st.sampled_from(["all", "any", "field"]), st.lists(children, max_size=4), max_size=2
    ),
    max_leaves=30,
)


def nested(depth: int, opener: str) -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + "1" + closer * depth
    return opener * depth + closer * depth


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_loads_json_raises_only_its_own_error(raw: bytes):
    try:
        loads_json(raw)
    except JsonInputError:
        pass


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=5000), st.sampled_from(["[", "{"]))
def test_any_nesting_is_parsed_or_refused_never_a_recursion_error(depth: int, opener: str):
    try:
        value = loads_json(nested(depth, opener))
    except JsonInputError:
        assert depth > 16
    else:
        assert depth <= 16 and value is not None


@settings(max_examples=300, deadline=None)
@given(filter_like)
def test_parse_filter_raises_only_filter_errors(raw: Any):
    try:
        parse_filter(raw)
    except FilterError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_decode_cursor_raises_only_a_problem(cursor: str):
    try:
        decode_cursor(cursor, (int, str))
    except Problem as problem:
        assert problem.status_code == 422


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_contact_fields_raise_only_field_errors(value: Any):
    for clean in (lambda v: clean_text("name", v), clean_tags, clean_attributes):
        try:
            clean(value)
        except FieldError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_clean_text_keeps_no_control_or_bidi_character(text: str):
    try:
        cleaned = clean_text("name", text)
    except FieldError:
        return
    if cleaned is not None:
        assert not any(ord(c) < 32 or ord(c) == 0x7F or 0x202A <= ord(c) <= 0x202E for c in cleaned)
        assert json.dumps(cleaned)
