"""The doctors' lock keys: the same in every process, each once, ascending, bounded."""

from disparo_reporting.attribution_locks import BUCKETS, doctor_lock_keys


def test_lock_keys_are_stable_distinct_and_ascending() -> None:
    phones = [f"+55119876{i:05d}" for i in range(2000)]
    keys = doctor_lock_keys(phones)
    assert keys == sorted(set(keys))
    assert len(keys) <= BUCKETS
    assert doctor_lock_keys(["+5511987654321", "+5511987654321"]) == [
        doctor_lock_keys(["+5511987654321"])[0]
    ]
    # CRC-32, not the per-process salted hash(): a known value
    assert doctor_lock_keys(["+5511987654321"]) == [175]
