"""FastStream's log lines reach our masking chain, without its supervisor's noise: an empty pull
is not reported as an error, and a subscriber task's end is not announced."""

import logging

from disparo_shared.broker import BROKER_LOGGER


def _record(
    message: str, exc: BaseException | None, level: int = logging.ERROR
) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("disparo.broker", level, __file__, 1, message, None, exc_info)


def test_empty_fetch_restart_is_dropped_but_real_errors_pass():
    assert not BROKER_LOGGER.filter(
        _record("Task-21 raised an exception, retrying...", TimeoutError())
    )
    assert BROKER_LOGGER.filter(
        _record("Task-21 raised an exception, retrying...", ValueError("x"))
    )
    assert BROKER_LOGGER.filter(_record("handler failed", None))


def test_task_end_announcement_is_dropped_but_other_info_passes():
    chatter = "callback for Task-7 is being executed..."
    assert not BROKER_LOGGER.filter(_record(chatter, None, logging.INFO))
    assert BROKER_LOGGER.filter(_record("subscriber started", None, logging.INFO))


def test_broker_logs_propagate_to_the_root_chain():
    assert BROKER_LOGGER.propagate and not BROKER_LOGGER.handlers
