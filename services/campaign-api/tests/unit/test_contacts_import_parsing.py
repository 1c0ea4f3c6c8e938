"""Streaming parsers of the contact import: records survive any chunking, errors carry rows."""

import json

import pytest

from disparo_campaign_api.contacts_fields import FieldError
from disparo_campaign_api.contacts_import import (
    CsvContacts,
    CsvRecordSplitter,
    ImportRow,
    JsonContacts,
    RowError,
)


def _feed_in_pieces(parser, text: str, size: int):
    out = []
    for i in range(0, len(text), size):
        out += parser.feed(text[i : i + size])
    return out + parser.close()


CSV_TEXT = (
    "telefone,nome,tags,observação\r\n"
    '11987654321,"Silva, Ana","a|b","linha 1\r\nlinha ""2"""\r\n'
    "21988887777,Bruno,,\r\n"
    "bad,Carla,,\r\n"
)


@pytest.mark.parametrize("size", [1, 2, 7, 64, 10_000])
def test_csv_records_are_the_same_for_any_chunk_size(size):
    rows = _feed_in_pieces(CsvContacts(10_000), CSV_TEXT, size)
    assert [r for r, _ in rows] == [2, 3, 4]
    first = rows[0][1]
    assert isinstance(first, ImportRow)
    assert first.name == "Silva, Ana"
    assert first.tags == "a\x1fb"
    assert json.loads(first.attributes) == {"observação": 'linha 1\r\nlinha "2"'}
    assert isinstance(rows[2][1], RowError) and rows[2][1].field == "phone"


def test_unterminated_quote_is_reported_on_its_row():
    rows = _feed_in_pieces(CsvContacts(10_000), 'phone,name\n11987654321,"Ana\n', 5)
    assert rows == [(2, RowError(2, "row", "unterminated quoted field"))]


def test_splitter_refuses_a_record_longer_than_the_limit():
    splitter = CsvRecordSplitter(max_record_chars=10)
    with pytest.raises(ValueError, match="longer than 10"):
        splitter.feed('"' + "x\n" * 20)


def test_csv_without_phone_column_is_refused():
    with pytest.raises(FieldError) as caught:
        CsvContacts(100).feed("nome,email\nAna,a@b\n")
    assert caught.value.field == "columns"


JSON_ROWS = [{"phone": "11987654321", "nome": "Ana", "extra": {"k": [1, 2]}}, 7, {"phone": "x"}]


@pytest.mark.parametrize("size", [1, 3, 50, 10_000])
def test_json_array_is_decoded_element_by_element(size):
    rows = _feed_in_pieces(JsonContacts(10_000), " \n" + json.dumps(JSON_ROWS, indent=2), size)
    assert [r for r, _ in rows] == [1, 2, 3]
    assert rows[0][1].name == "Ana"
    assert json.loads(rows[0][1].attributes) == {"extra": {"k": [1, 2]}}
    assert rows[1][1] == RowError(2, "row", "not a JSON object")
    assert rows[2][1].field == "phone"


def test_json_array_errors_stop_at_the_broken_element():
    rows = _feed_in_pieces(JsonContacts(10_000), '[{"phone": "11987654321"}, {"phone": ]', 4)
    assert isinstance(rows[0][1], ImportRow)
    assert rows[1][0] == 2 and isinstance(rows[1][1], RowError)


def test_empty_array_and_unclosed_array():
    assert _feed_in_pieces(JsonContacts(100), "[ ]", 1) == []
    rows = _feed_in_pieces(JsonContacts(100), '[{"phone": "11987654321"}', 100)
    assert rows[-1][1] == RowError(2, "row", "the JSON array is not closed")


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_ndjson_lines_resume_after_a_bad_line(size):
    text = '{"phone": "11987654321"}\n{oops\n\n{"phone": "21988887777"}'
    rows = _feed_in_pieces(JsonContacts(10_000), text, size)
    assert [r for r, _ in rows] == [1, 2, 4]
    assert isinstance(rows[1][1], RowError)
    assert rows[2][1].phone == "+5521988887777"
