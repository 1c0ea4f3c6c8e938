"""Streaming parsers of the contact import: records survive any chunking, errors carry rows."""

import csv
import io
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from disparo_campaign_api.contacts.bulk_import import (
    CsvContacts,
    CsvRecordSplitter,
    ImportRow,
    JsonContacts,
    RowError,
    _column_text,
    canonical_column,
    clean_row,
)
from disparo_campaign_api.contacts.fields import FieldError


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


# Column names and cells that exercise every rule: known columns twice under two names, custom
# attribute columns, a blank name, JSON attributes, and cells each rule refuses.
HEADER_NAMES = ["telefone", "celular", "nome", "especialidade", "Região", "tags", "status",
                "fuso_horario", "atributos", "crm_uf", " hospital ", "", "obs"]  # fmt: skip
CELLS = ["", " ", "11987654321", "(11) 8765-4321", "+55 21 99876-5432", "bad", " Ana ",
         "Pediatria", "a|b", "a;b|a", "|", "x" * 70, "x" * 201, "active", "ON LEAVE", "Inactive",
         "America/Manaus", "Mars/Base", '{"k": 1}', '{"crm_uf": "RJ"}', "[1]", "{bad", '{"": 1}',
         "SP", "\x01", "linha 1\nlinha 2", '"aspas", vírgula']  # fmt: skip


def _read_by_name(header: list[str], records: list[list[str]]) -> list[tuple[int, object]]:
    """The plain reading of a CSV: cells by column name (the last of a name wins), others as
    attributes, each record cleaned by ``clean_row``; what the fast path must agree with."""
    out: list[tuple[int, object]] = []
    for row, cells in enumerate(records, start=2):
        if cells == [""]:
            continue  # a blank line
        if len(cells) > len(header):
            out.append(
                (row, RowError(row, "row", f"{len(cells)} fields, header has {len(header)}"))
            )
            continue
        known, extra = {}, {}
        for name, cell in zip(header, cells, strict=False):
            column = canonical_column(name)
            if column is not None:
                known[column] = cell
            elif cell.strip() and name.strip():
                extra[name.strip()] = cell.strip()
        try:
            out.append((row, clean_row(known, extra)))
        except FieldError as exc:
            out.append((row, RowError(row, exc.field, exc.reason)))
    return out


@settings(max_examples=300, deadline=None)
@given(
    header=st.lists(st.sampled_from(HEADER_NAMES), min_size=1, max_size=6).map(
        lambda names: names if "telefone" in names or "celular" in names else [*names, "telefone"]
    ),
    records=st.lists(st.lists(st.sampled_from(CELLS), min_size=1, max_size=8), max_size=12),
)
# every field bad at once: the error names the one clean_row checks first
@example(["telefone", "nome", "status", "tags", "atributos"], [["bad", "\x01", "?", "\x01", "[1]"]])
def test_csv_rows_are_what_the_plain_reading_by_column_name_gives(header, records):
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *records])
    parser = CsvContacts(10_000)
    assert parser.feed(text.getvalue()) + parser.close() == _read_by_name(header, records)


def test_a_bad_cell_seen_before_is_refused_on_every_row():
    text = "telefone,status\n11987654321,Não Sei\n11987654322,Não Sei\n11987654323,active\n"
    rows = _feed_in_pieces(CsvContacts(10_000), text, 10_000)
    assert [(r, row.field if isinstance(row, RowError) else None) for r, row in rows] == [
        (2, "status"),
        (3, "status"),
        (4, None),
    ]


def test_column_text_marks_each_value_and_refuses_the_mark_inside_one():
    assert _column_text(["a", None, ""]) == "\x1ea\x1e\x1d\x1e"
    with pytest.raises(ValueError, match="U\\+001E"):
        _column_text(["a\x1eb"])
