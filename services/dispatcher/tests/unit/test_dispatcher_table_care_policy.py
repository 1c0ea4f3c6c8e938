"""When the dispatcher vacuums or analyses its hot tables itself (table_care.CarePolicy)."""

from disparo_dispatcher.table_care import CareAction, CarePolicy, TableChurn

POLICY = CarePolicy(min_rows=50_000, fraction=0.05)


def churn(live: int = 0, dead: int = 0, changed: int = 0) -> TableChurn:
    return TableChurn("messages", live=live, dead=dead, changed_since_analyze=changed)


def test_a_quiet_table_is_left_alone():
    assert POLICY.action_for(churn(live=10_000_000, dead=49_999, changed=49_999)) is None


def test_a_bulk_intake_into_a_small_table_calls_for_an_analyse():
    assert POLICY.action_for(churn(live=60_000, changed=60_000)) is CareAction.ANALYZE


def test_dead_rows_call_for_a_vacuum_even_when_the_statistics_are_fresh():
    assert POLICY.action_for(churn(live=200_000, dead=50_000, changed=0)) is CareAction.VACUUM


def test_a_big_table_waits_for_its_share_not_the_minimum():
    # 5% of 4,000,000 is 200,000: 150,000 changed rows are not yet worth a pass
    assert POLICY.action_for(churn(live=4_000_000, dead=150_000, changed=150_000)) is None
    assert POLICY.action_for(churn(live=4_000_000, dead=200_000)) is CareAction.VACUUM


def test_a_table_only_appended_to_is_analysed_when_it_has_doubled():
    appended = CarePolicy(min_rows=50_000, fraction=0.05, analyze_fraction=0.5)
    assert appended.action_for(churn(live=50_000, changed=50_000)) is CareAction.ANALYZE
    assert appended.action_for(churn(live=800_000, changed=399_999)) is None
    assert appended.action_for(churn(live=800_000, changed=400_000)) is CareAction.ANALYZE
    # its dead rows (retention, erasure) still call for a vacuum at the usual share
    assert appended.action_for(churn(live=800_000, dead=50_000)) is CareAction.VACUUM
