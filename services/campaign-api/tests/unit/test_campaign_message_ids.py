from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disparo_campaign_api.campaigns.message_ids import (
    campaign_id_prefix,
    campaign_message_id,
    recipient_seq,
    unix_milliseconds,
)
from disparo_shared.time_ordered_ids import time_ordered_uuid

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
campaigns = st.uuids()
seqs = st.integers(min_value=1, max_value=2**31 - 1)
starts = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def legacy_campaign_message_id(campaign_id: UUID, seq: int) -> UUID:
    """The version-8 layout fan-out used before ids were time-ordered (campaign bits ‖ seq)."""
    prefix = campaign_id.int >> 68
    high = ((prefix >> 12) << 16) | (8 << 12) | (prefix & 0xFFF)
    return UUID(int=(high << 64) | (0b10 << 62) | seq)


@given(campaigns, starts, seqs)
def test_the_same_recipient_always_gets_the_same_valid_version_7_id(campaign, start, seq):
    message_id = campaign_message_id(campaign, start, seq)
    assert message_id == campaign_message_id(campaign, start, seq)
    assert message_id.version == 7 and message_id.variant == "specified in RFC 4122"
    assert message_id.int >> 80 == unix_milliseconds(start)  # the UUIDv7 time field
    assert recipient_seq(campaign, message_id) == seq


@given(campaigns, starts, seqs, seqs)
def test_ids_of_one_campaign_sort_by_seq(campaign, start, seq, other_seq):
    ordered = campaign_message_id(campaign, start, seq) < campaign_message_id(
        campaign, start, other_seq
    )
    assert ordered == (seq < other_seq)


@given(
    campaigns,
    campaigns,
    starts,
    st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=3650)),
    seqs,
)
def test_a_campaign_started_later_sorts_after_every_id_of_an_earlier_one(
    earlier, later, start, gap, seq
):
    last_of_earlier = campaign_message_id(earlier, start, 2**31 - 1)
    assert campaign_message_id(later, start + gap, seq) > last_of_earlier


@given(campaigns, starts, seqs)
def test_sql_prefix_and_seq_make_the_same_id(campaign, start, seq):
    # what request_chunk writes: $10::text || lpad(to_hex(seq), 8, '0')
    made = campaign_id_prefix(campaign, start) + f"{seq:08x}"
    assert made == str(campaign_message_id(campaign, start, seq))


@given(campaigns, campaigns, starts, seqs)
def test_an_id_of_another_campaign_is_not_a_recipient(campaign, other, start, seq):
    if campaign != other:
        assert recipient_seq(other, campaign_message_id(campaign, start, seq)) is None


@given(campaigns, seqs)
def test_ids_issued_before_time_ordering_still_lead_to_their_recipient(campaign, seq):
    legacy = legacy_campaign_message_id(campaign, seq)
    assert recipient_seq(campaign, legacy) == seq
    assert recipient_seq(uuid4(), legacy) is None


def test_random_ids_of_other_requesters_are_not_recipients():
    campaign = uuid4()
    assert recipient_seq(campaign, uuid4()) is None
    assert all(recipient_seq(campaign, time_ordered_uuid(START)) is None for _ in range(1000))


def test_the_worked_example_of_the_docstring():
    campaign = UUID("0b7e8c9a-4f0e-4d2b-9a51-3c1d2e3f4a5b")
    assert str(campaign_message_id(campaign, START, 1)) == "01a240ec-f200-72a6-9fd1-ddeb00000001"
    assert (
        str(campaign_message_id(campaign, START, 1_000_000))
        == "01a240ec-f200-72a6-9fd1-ddeb000f4240"
    )


def test_a_seq_outside_the_audience_range_is_refused():
    for seq in (0, -1, 2**32):
        with pytest.raises(ValueError):
            campaign_message_id(uuid4(), START, seq)


@given(starts, starts)
def test_random_time_ordered_ids_are_version_7_and_sort_by_their_millisecond(a, b):
    first, second = time_ordered_uuid(a), time_ordered_uuid(b)
    for made, at in ((first, a), (second, b)):
        assert made.version == 7 and made.variant == "specified in RFC 4122"
        assert made.int >> 80 == unix_milliseconds(at)
    if unix_milliseconds(a) < unix_milliseconds(b):
        assert first < second


def test_random_time_ordered_ids_are_unique():
    assert len({time_ordered_uuid(START) for _ in range(100_000)}) == 100_000
