"""Cursor pagination helpers: opaque round trip, typed decode, bad cursors are 422."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from disparo_campaign_api.pagination import check_limit, decode_cursor, encode_cursor, paginate
from disparo_shared.problems import Problem


def test_cursor_round_trips_typed_values():
    key = (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid4())
    assert decode_cursor(encode_cursor(key), (datetime.fromisoformat, UUID)) == list(key)


@pytest.mark.parametrize("cursor", ["nope", encode_cursor([1]), encode_cursor(["x", "y"])])
def test_bad_cursor_is_a_422_naming_cursor(cursor):
    with pytest.raises(Problem) as caught:
        decode_cursor(cursor, (datetime.fromisoformat, UUID))
    assert caught.value.status_code == 422
    assert caught.value.errors[0]["field"] == "cursor"


def test_paginate_uses_the_extra_row_only_to_know_more_exist():
    rows = [{"k": i} for i in range(4)]
    page = paginate(rows, 3, lambda r: (r["k"],))
    assert page.items == rows[:3]
    assert decode_cursor(page.next_cursor, (int,)) == [2]
    assert paginate(rows, 4, lambda r: (r["k"],)).next_cursor is None


def test_limit_bounds():
    assert check_limit(None, 500) == 50
    assert check_limit(500, 500) == 500
    with pytest.raises(Problem):
        check_limit(501, 500)
