"""The segment builder's form becomes campaign-api's filter language, and a filter opens in it."""

from hypothesis import given
from hypothesis import strategies as st

from disparo_console.segment_form import (
    DATE_FIELDS,
    MAX_DEPTH,
    MAX_NODES,
    Kept,
    SegmentForm,
    form_fields,
    read_segment_form,
    tree_from_filter,
)


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


def test_nested_groups_become_nested_filters_and_an_unfilled_group_is_left_out():
    form = read_segment_form(
        {
            "nodes": "0:c,1:g,1-0:c,1-1:g,1-1-0:c,2:g,2-0:c",
            "combinator": "all",
            "cond-0-field": "specialty",
            "cond-0-op": "eq",
            "cond-0-value": "Pediatria",
            "cond-1-combinator": "any",
            "cond-1-0-field": "tags",
            "cond-1-0-op": "any",
            "cond-1-0-value": "noturno",
            "cond-1-1-combinator": "all",
            "cond-1-1-0-field": "interactions",
            "cond-1-1-0-op": "gte",
            "cond-1-1-0-value": "3",
            "cond-2-combinator": "any",
            "cond-2-0-field": "region",
            "cond-2-0-op": "eq",
            "cond-2-0-value": "",
        }  # fmt: skip
    )
    assert form.filter() == {
        "all": [
            {"field": "specialty", "op": "eq", "value": "Pediatria"},
            {"any": [{"field": "tags", "op": "any", "value": ["noturno"]},
                     {"all": [{"field": "interactions", "op": "gte", "value": 3}]}]},
        ]
    }  # fmt: skip


def test_add_a_group_then_a_condition_in_it_then_remove_it_focusing_where_the_edit_was():
    form = read_segment_form({}, "grupo:")
    assert form.node_list() == "0:c,1:c,2:g,2-0:c"
    assert form.focus == "cond-2-combinator"  # the new group's AND/OR, for the keyboard
    form = read_segment_form(form_fields(form), "condicao:2")
    assert form.node_list() == "0:c,1:c,2:g,2-0:c,2-1:c" and form.focus == "cond-2-1-field"
    form = read_segment_form(form_fields(form), "remover:2-0")
    assert form.node_list() == "0:c,1:c,2:g,2-0:c" and form.focus == "cond-2-add-condition"
    form = read_segment_form(form_fields(form), "remover:2")
    assert form.node_list() == "0:c,1:c" and form.focus == "add-condition"


def test_groups_nest_at_most_max_depth_and_the_builder_holds_at_most_max_nodes():
    form = read_segment_form({}, "")
    path = ""
    for _ in range(MAX_DEPTH + 2):
        form = read_segment_form(form_fields(form), f"grupo:{path}")
        path = f"{path}-0" if path else "2"
    assert max(len(key.split("-")) for key in form.node_list().split(",")) == MAX_DEPTH
    for _ in range(MAX_NODES + 5):
        form = read_segment_form(form_fields(form), "condicao:")
    assert form.node_count() == MAX_NODES
    forged = read_segment_form({"nodes": ",".join(f"{i}:c" for i in range(500))})
    assert forged.node_count() == MAX_NODES


def test_a_half_typed_number_or_date_is_flagged_and_left_out_instead_of_breaking_the_count():
    form = read_segment_form(
        {"nodes": "0:c,1:c",
         "cond-0-field": "interactions", "cond-0-op": "gte", "cond-0-value": "3x",
         "cond-1-field": "created_at", "cond-1-op": "after", "cond-1-value": "2026-1"}
    )  # fmt: skip
    assert form.filter() == {"all": []}
    assert form.errors == {
        "cond-0-value": "segment.error.number",
        "cond-1-value": "segment.error.date",
    }


def test_never_happened_needs_no_value():
    form = read_segment_form(
        {"nodes": "0:c", "cond-0-field": "last_inbound_at", "cond-0-op": "missing"}
    )
    assert form.filter() == {"all": [{"field": "last_inbound_at", "op": "exists", "value": False}]}


def test_an_operator_of_another_field_falls_back_to_the_fields_first():
    form = read_segment_form(
        {"rows": "1", "cond-0-field": "interactions", "cond-0-op": "before", "cond-0-value": "2"}
    )
    assert form.filter() == {"all": [{"field": "interactions", "op": "gte", "value": 2}]}


def test_a_condition_the_builder_cannot_edit_is_kept_as_it_was():
    saved = {"any": [{"field": "attributes.crm_uf", "op": "eq", "value": "SP"},
                     {"field": "region", "op": "in", "value": ["ABC", "a,b"]}]}  # fmt: skip
    tree = tree_from_filter(saved)
    assert all(isinstance(node, Kept) for node in tree.children)
    assert read_segment_form(_fields_of(tree)).filter() == saved


def _fields_of(tree) -> dict[str, str]:
    return form_fields(SegmentForm(tree=tree))


# --- the round trip: any filter the builder can show comes back unchanged -----------------

_words = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters=",;", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]
    ),
    min_size=1, max_size=12,
)  # fmt: skip
_text_field = st.sampled_from(["specialty", "region", "status"])
_word_lists = st.lists(_words, min_size=1, max_size=4)
_conditions = st.one_of(
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
              _text_field, st.sampled_from(["eq", "neq"]), _words),
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
              _text_field, st.sampled_from(["in", "not_in"]), _word_lists),
    st.builds(lambda op, v: {"field": "tags", "op": op, "value": v},
              st.sampled_from(["any", "all", "none"]), _word_lists),
    st.builds(lambda op, v: {"field": "interactions", "op": op, "value": v},
              st.sampled_from(["eq", "gte", "gt", "lte", "lt"]), st.integers(0, 10_000)),
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": {"days_ago": v}},
              st.sampled_from(sorted(DATE_FIELDS)), st.sampled_from(["before", "after"]),
              st.integers(0, 36_500)),
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
              st.sampled_from(sorted(DATE_FIELDS)), st.sampled_from(["before", "after"]),
              st.sampled_from(["2026-01-31", "2026-01-31T09:00:00-03:00"])),
    st.builds(lambda f, v: {"field": f, "op": "exists", "value": v},
              st.sampled_from(sorted(DATE_FIELDS)), st.booleans()),
    st.builds(lambda v: {"field": "attributes.crm_uf", "op": "eq", "value": v}, _words),
)  # fmt: skip


def _groups(depth: int):
    members = _conditions if depth == 0 else st.one_of(_conditions, _groups(depth - 1))
    return st.builds(
        lambda kind, items: {kind: items},
        st.sampled_from(["all", "any"]),
        st.lists(members, min_size=1, max_size=4),
    )


@given(_groups(MAX_DEPTH))
def test_a_filter_opened_in_the_builder_and_posted_back_is_the_same_filter(saved):
    opened = _fields_of(tree_from_filter(saved))
    assert read_segment_form(opened).filter() == saved


@given(_conditions)
def test_a_lone_condition_opens_as_a_group_holding_it(condition):
    assert read_segment_form(_fields_of(tree_from_filter(condition))).filter() == {
        "all": [condition]
    }
