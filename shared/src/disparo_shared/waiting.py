"""Waiting for a wake-up or a timeout without losing a stop request.

``asyncio.wait_for(event.wait(), seconds)`` is unsafe in a loop on Python 3.11: when the task
is cancelled in the same loop iteration the event is set (a NOTIFY landing as the service stops),
it returns normally and the cancellation is lost (CPython gh-86296, fixed in 3.12). A worker
looping around it then never stops, and the service's shutdown waits for it forever: the
once-seen hang of a campaign-api test client under load. ``asyncio.timeout`` counts
cancellations and always lets an outside one through.
"""

import asyncio


async def wait_for_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
