"""Privacy: phone numbers and secrets never reach a log line in clear."""

import io
import logging

import pytest
import structlog

from disparo_shared.logging import configure_logging, get_logger
from disparo_shared.privacy import REDACTED, mask_phone, scrub

PHONE = "+5511987654321"


@pytest.fixture
def captured_logs():
    """The real logging configuration, its handler writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config()
    configure_logging("INFO", json=False)
    buffer = io.StringIO()
    (handler,) = root.handlers
    handler.setStream(buffer)
    yield buffer.getvalue
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.configure(**saved_structlog)


def test_mask_keeps_prefix_and_last_two_digits():
    assert mask_phone(PHONE) == "+5511*******21"
    assert mask_phone("ligar para 5511987654321 amanhã") == "ligar para 5511*******21 amanhã"
    assert mask_phone("(11) 98765-4321") == "(11) 98765-4321"  # punctuated local forms are split
    assert mask_phone("11987654321") == "1198*****21"


def test_short_numbers_and_ids_inside_longer_digit_runs_are_left_alone():
    assert mask_phone("attempt 3 of 5, code 131056") == "attempt 3 of 5, code 131056"
    digits_20 = "12345678901234567890"
    assert mask_phone(digits_20) == digits_20


def test_scrub_redacts_secret_fields_and_masks_phones_recursively():
    scrubbed = scrub(
        {"apikey": "sim-evolution-key", "to": PHONE, "nested": [{"Authorization": "Bearer x"}]}
    )

    assert scrubbed == {
        "apikey": REDACTED,
        "to": "+5511*******21",
        "nested": [{"Authorization": REDACTED}],
    }


def test_structured_log_lines_carry_no_phone_and_no_secret(captured_logs):
    log = get_logger("disparo.privacy_test")
    log.info(f"sending to {PHONE}", phone=PHONE, token="sim-cloud-token", payload={"to": PHONE})

    output = captured_logs()
    assert "sending to +5511*******21" in output
    assert PHONE not in output
    assert "5511987654321" not in output
    assert "sim-cloud-token" not in output
    assert REDACTED in output


def test_library_log_lines_are_masked_too(captured_logs):
    logging.getLogger("some.library").warning("retrying request for %s", PHONE)

    output = captured_logs()
    assert "retrying request for +5511*******21" in output
    assert PHONE not in output


def test_exceptions_in_logs_are_masked(captured_logs):
    log = get_logger("disparo.privacy_test")
    try:
        raise ValueError(f"provider refused {PHONE}")
    except ValueError:
        log.exception("send failed")

    output = captured_logs()
    assert "ValueError: provider refused +5511*******21" in output
    assert PHONE not in output
