"""At most N imports at once per process: the next is answered 429 with Retry-After."""

import pytest

from disparo_campaign_api.contacts.import_slots import RETRY_AFTER_SECONDS, ImportSlots
from disparo_shared.problems import Problem


def test_an_import_past_the_cap_is_turned_away_and_a_freed_slot_is_taken_again():
    slots = ImportSlots()
    with slots.take(2), slots.take(2):
        with pytest.raises(Problem) as refused:
            with slots.take(2):
                pass
        assert refused.value.status_code == 429
        assert refused.value.headers == {"Retry-After": str(RETRY_AFTER_SECONDS)}
    with slots.take(2):
        assert slots.running == 1


def test_a_failed_import_gives_its_slot_back():
    slots = ImportSlots()
    with pytest.raises(ValueError), slots.take(1):
        raise ValueError("a bad file")
    assert slots.running == 0
