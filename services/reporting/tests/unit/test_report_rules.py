"""Pure rules behind the reports: error explanations, retention, reply previews, cursors."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from disparo_reporting.error_catalog import catalog, explain
from disparo_reporting.overview import InvalidCursor, decode_cursor, encode_cursor
from disparo_reporting.projections import first_words
from disparo_reporting.reports import mask_numbers, retention_of

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def test_every_error_code_has_an_explanation_and_an_action() -> None:
    for entry in catalog().values():
        assert entry.explanation and entry.action, entry.code
    for code in ("130429", "131056", "131048", "131026", "131050", "131047", "exists_false"):
        assert code in catalog()


def test_an_unknown_code_falls_back_to_its_family() -> None:
    assert explain("http_503").code == "http_5xx"
    assert explain("http_422").code == "http_4xx"
    assert explain("http_401").code == "http_401"
    assert explain("999999").code == "unknown"


def test_a_campaign_older_than_the_streams_says_so() -> None:
    old = retention_of(NOW - timedelta(days=40), timedelta(days=30), NOW)
    assert old.older_than_retention and old.stream_max_age_days == 30
    assert "30 days" in old.note
    recent = retention_of(NOW - timedelta(days=3), timedelta(days=30), NOW)
    assert not recent.older_than_retention and recent.note is None
    forever = retention_of(NOW - timedelta(days=400), None, NOW)
    assert not forever.older_than_retention


def test_a_reply_preview_keeps_whole_words() -> None:
    assert first_words("Sim,   tenho\ninteresse") == "Sim, tenho interesse"
    assert first_words("Sim, tenho interesse no plantão de sábado", 20) == "Sim, tenho interesse…"
    assert first_words("x" * 30, 10) == "x" * 10 + "…"


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    campaign_id = uuid4()
    assert decode_cursor(encode_cursor(0.25, campaign_id)) == (0.25, campaign_id)
    with pytest.raises(InvalidCursor):
        decode_cursor("bm90LWpzb24")


def test_numbers_in_a_reply_are_masked_however_they_are_written() -> None:
    assert mask_numbers("ligue 11 98765 0077") == "ligue ** ***** **77"
    assert mask_numbers("+5511987650077 ou (11) 9876-5432") == "+***********77 ou (**) ****-**32"
    assert mask_numbers("Sim, plantão dia 12") == "Sim, plantão dia 12"
