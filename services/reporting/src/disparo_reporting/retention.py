"""How long the event streams keep what a rebuild replays, read from JetStream itself.

Asked of the MESSAGES stream (the one every report is built from) and remembered for five
minutes, so a report costs no extra round trip in the common case and an operator's change of
``max_age`` shows up without a restart.
"""

import time
from datetime import timedelta

from nats.errors import Error as NatsError

from disparo_shared.events import subjects
from disparo_shared.logging import get_logger
from disparo_shared.runtime import Runtime
from disparo_shared.streams import stream_name

log = get_logger(__name__)
_CACHE_SECONDS = 300.0
_cached: tuple[float, timedelta | None] | None = None


async def stream_max_age(runtime: Runtime) -> timedelta | None:
    """The MESSAGES stream's max age, or None when it keeps events forever or cannot be asked."""
    global _cached
    now = time.monotonic()
    if _cached is not None and now - _cached[0] < _CACHE_SECONDS:
        return _cached[1]
    name = stream_name(runtime.settings.nats.stream_prefix, subjects.STREAM_MESSAGES)
    try:
        info = await runtime.js.stream_info(name)
    except (NatsError, TimeoutError) as exc:
        log.warning("stream retention unknown", stream=name, error=str(exc))
        return None
    max_age = info.config.max_age
    value = timedelta(seconds=max_age) if max_age else None
    _cached = (now, value)
    return value
