"""Brazilian phone normalisation: the kernel's rules and the import's fast path agree."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disparo_campaign_api.contacts.phones import normalize_phone_fast
from disparo_shared.phones import InvalidPhone, normalize_phone


def _kernel(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except InvalidPhone:
        return None


def _fast(text: str) -> str | None:
    try:
        return normalize_phone_fast(text)
    except InvalidPhone:
        return None


@pytest.mark.parametrize(
    "text",
    [
        "(11) 98765-4321",
        "(11) 8765-4321",
        "+55 11 98765-4321",
        "+55 (11) 8765-4321",
        "5511987654321",
        "551187654321",
        "11987654321",
        "1187654321",
        "11 98765.4321",
        "011 98765-4321",
    ],
)
def test_every_form_of_one_mobile_is_one_e164(text):
    assert normalize_phone(text) == "+5511987654321"
    assert normalize_phone_fast(text) == "+5511987654321"


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("(11) 3333-4444", "+551133334444"),
        ("+1 650 253 0000", "+16502530000"),
        ("(21) 7123-4567", "+5521971234567"),
    ],
)
def test_landlines_and_other_countries_go_through_the_kernel(text, e164):
    assert normalize_phone_fast(text) == normalize_phone(text) == e164


@pytest.mark.parametrize(
    "text", ["", "12345", "abc", "(00) 98765-4321", "+55 11 98765-43210", "(20) 98765-4321"]
)
def test_invalid_numbers_are_refused_by_both(text):
    with pytest.raises(InvalidPhone):
        normalize_phone(text)
    with pytest.raises(InvalidPhone):
        normalize_phone_fast(text)


def test_fast_path_agrees_with_the_kernel_for_every_area_code():
    rng = random.Random(3)
    for ddd in range(10, 100):
        for _ in range(6):
            local = f"{rng.choice('6789')}{rng.randrange(10**7):07d}"
            for text in (
                f"({ddd}) 9{local[:4]}-{local[4:]}",
                f"({ddd}) {local[:4]}-{local[4:]}",
                f"+55{ddd}9{local}",
                f"55{ddd}{local}",
                f"{ddd}9{local}",
                f"{ddd}{rng.choice('2345')}{local[1:]}",
            ):
                assert _fast(text) == _kernel(text), text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789 +-().", max_size=20))
def test_fast_path_never_disagrees_with_the_kernel(text):
    assert _fast(text) == _kernel(text)
