"""Structured logs (structlog) for our code and the libraries', always passed through privacy."""

import logging
import sys
from typing import Any

import structlog

from disparo_shared.privacy import scrub


def _scrub_event(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # uvicorn repeats every message with terminal colour codes; one copy is enough.
    event_dict.pop("color_message", None)
    return {key: scrub(value, key) for key, value in event_dict.items()}


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Route structlog and stdlib logging (uvicorn, faststream, …) through one masking chain."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _scrub_event,
    ]
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # one line per HTTP call to a provider would drown everything else
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
