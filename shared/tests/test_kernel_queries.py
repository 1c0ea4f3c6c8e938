"""Named queries: one ``-- name:`` block per statement, loaded once, addressed by attribute."""

import pytest

from disparo_shared.queries import load_queries, parse_queries

SQL = """
-- Queries of a fictional queue.

-- name: claim_due_messages
-- Claims up to $1 due messages for this worker.
SELECT id
  FROM messages
 WHERE due_at <= $2::timestamptz  -- inline comments stay
 LIMIT $1::int;

-- name: mark_sent
-- Fences completion by attempt.
UPDATE messages SET state = 'sent' WHERE id = $1::uuid AND attempt = $2::int;
"""


def test_each_named_block_becomes_one_statement_without_its_comment_lines():
    queries = parse_queries(SQL)

    assert queries.names() == ["claim_due_messages", "mark_sent"]
    assert queries.claim_due_messages.startswith("SELECT id")
    assert "Claims up to" not in queries.claim_due_messages
    assert "-- inline comments stay" in queries.claim_due_messages
    assert queries.mark_sent == (
        "UPDATE messages SET state = 'sent' WHERE id = $1::uuid AND attempt = $2::int"
    )


def test_trailing_semicolon_is_dropped_so_statements_can_be_composed():
    assert not parse_queries(SQL).claim_due_messages.endswith(";")


def test_unknown_query_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no query named 'nope'"):
        _ = parse_queries(SQL).nope


def test_a_name_defined_twice_is_rejected():
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")


def test_text_before_the_first_name_is_ignored():
    assert parse_queries("-- header only\n").names() == []


def test_load_queries_reads_a_file(tmp_path):
    path = tmp_path / "queue.sql"
    path.write_text(SQL, encoding="utf-8")

    assert load_queries(path).names() == ["claim_due_messages", "mark_sent"]
