"""FastStream's log lines reach our masking chain, and an empty pull is not reported as an error."""

import logging

from disparo_shared.broker import BROKER_LOGGER


def _record(message: str, exc: BaseException | None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("disparo.broker", logging.ERROR, __file__, 1, message, None, exc_info)


def test_empty_fetch_restart_is_dropped_but_real_errors_pass():
    assert not BROKER_LOGGER.filter(
        _record("Task-21 raised an exception, retrying...", TimeoutError())
    )
    assert BROKER_LOGGER.filter(
        _record("Task-21 raised an exception, retrying...", ValueError("x"))
    )
    assert BROKER_LOGGER.filter(_record("handler failed", None))


def test_broker_logs_propagate_to_the_root_chain():
    assert BROKER_LOGGER.propagate and not BROKER_LOGGER.handlers
