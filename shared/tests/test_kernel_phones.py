"""Brazilian phone numbers: every written form of one mobile is one E.164 number."""

import pytest

from disparo_shared.phones import InvalidPhone, normalize_phone, whatsapp_id


@pytest.mark.parametrize(
    "written",
    [
        "+55 11 98765-4321",
        "+5511987654321",
        "5511987654321",  # WhatsApp's own form: country code without "+"
        "(11) 98765-4321",
        "11987654321",
        "011 98765 4321",
        "(11) 8765-4321",  # before the ninth digit
        "+55 11 8765-4321",
        "551187654321",
    ],
)
def test_a_mobile_in_any_form_normalises_to_one_number(written):
    assert normalize_phone(written) == "+5511987654321"


def test_other_area_codes_get_the_ninth_digit_too():
    assert normalize_phone("(81) 8123-4567") == "+5581981234567"


def test_landlines_keep_eight_digits():
    assert normalize_phone("(11) 3456-7890") == "+551134567890"


def test_numbers_of_other_countries_keep_their_own_rules():
    assert normalize_phone("+1 650-253-0000") == "+16502530000"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not a phone", "not a phone number"),
        ("+55 00 1234-5678", "not a valid number"),
        ("123", "not a valid number"),
    ],
)
def test_invalid_input_says_why(written, reason):
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(written)


def test_whatsapp_id_is_e164_without_plus():
    assert whatsapp_id("+5511987654321") == "5511987654321"
