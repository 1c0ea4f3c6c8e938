"""The segment builder's form becomes campaign-api's filter language."""

from disparo_console.segment_form import read_segment_form


def test_filled_rows_become_an_all_group_and_empty_rows_are_left_out():
    form = read_segment_form(
        {
            "rows": "3",
            "combinator": "all",
            "cond-0-field": "specialty",
            "cond-0-op": "eq",
            "cond-0-value": "Pediatria",
            "cond-1-field": "last_contact_at",
            "cond-1-op": "before",
            "cond-1-value": "30",
            "cond-2-field": "region",
            "cond-2-op": "eq",
            "cond-2-value": "  ",
        }  # fmt: skip
    )
    assert form.filter() == {
        "all": [
            {"field": "specialty", "op": "eq", "value": "Pediatria"},
            {"field": "last_contact_at", "op": "before", "value": {"days_ago": 30}},
        ]
    }


def test_tags_are_a_list_and_any_makes_an_or_group():
    form = read_segment_form(
        {
            "rows": "1",
            "combinator": "any",
            "cond-0-field": "tags",
            "cond-0-op": "none",
            "cond-0-value": "noturno; disponível ,",
        }  # fmt: skip
    )
    assert form.filter() == {
        "any": [{"field": "tags", "op": "none", "value": ["noturno", "disponível"]}]
    }


def test_a_half_typed_number_is_flagged_and_left_out_instead_of_breaking_the_count():
    form = read_segment_form(
        {"rows": "1", "cond-0-field": "interactions", "cond-0-op": "gte", "cond-0-value": "3x"}
    )
    assert form.filter() == {"all": []}
    assert form.errors == {"cond-0-value": "segment.error.number"}


def test_an_operator_of_another_field_falls_back_to_the_fields_first():
    form = read_segment_form(
        {"rows": "1", "cond-0-field": "interactions", "cond-0-op": "before", "cond-0-value": "2"}
    )
    assert form.filter() == {"all": [{"field": "interactions", "op": "gte", "value": 2}]}


def test_adding_a_row_keeps_the_typed_ones_and_stops_at_the_maximum():
    form = read_segment_form({"rows": "2", "cond-0-value": "Pediatria"}, add_row=True)
    assert len(form.rows) == 3
    assert form.rows[0].value == "Pediatria"
    assert len(read_segment_form({"rows": "40"}, add_row=True).rows) == 12
