"""The spec's ``optout`` status is a marker to act on, never a business status to store."""

import pytest

from disparo_campaign_api.contacts.bulk_import import CsvContacts
from disparo_campaign_api.contacts.fields import (
    OPT_OUT_STATUS,
    FieldError,
    clean_status,
    marks_opt_out,
    stored_status,
)


@pytest.mark.parametrize("sent", ["optout", "OPTOUT", " OptOut ", "opt_out", "opted_out"])
def test_every_spelling_of_the_marker_cleans_to_it_and_stores_no_status(sent):
    assert clean_status(sent) == OPT_OUT_STATUS
    assert marks_opt_out(sent)
    assert stored_status(clean_status(sent)) is None


@pytest.mark.parametrize("sent", [None, "", "active", "on_leave", "opt-out?"])
def test_other_statuses_are_not_the_marker(sent):
    assert not marks_opt_out(sent)
    if sent == "opt-out?":
        with pytest.raises(FieldError):
            clean_status(sent)
    else:
        assert stored_status(clean_status(sent)) == clean_status(sent)


def test_csv_rows_carry_the_marker_to_the_batch_writer():
    parser = CsvContacts(10_000)
    rows = parser.feed("telefone,status\n11987654321,OptOut\n21988887777,ativo\n") + parser.close()
    assert [row.status for _, row in rows] == [OPT_OUT_STATUS, "ativo"]
