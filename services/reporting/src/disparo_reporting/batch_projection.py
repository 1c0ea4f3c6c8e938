"""Projects a batch of events in one transaction, with a few set-based statements per batch.

The live subscribers pull up to ``batch_size`` events at a time, applied in batches of up to
``batch_max_messages`` messages (``subscribers``); one by one, each event cost a transaction, an
inbox insert, two or three statements and a lock: about 240 events/s. A batch
records all its event ids in the inbox with one statement (a duplicate, within the batch or
seen before, is applied once), takes its doctors' attribution locks once, and writes the
facts, history entries and replies of its message events with one statement each
(``message_facts``). The result is the one the events would leave projected one by one:

- message facts fold in order (``sql/message_facts.sql``): state by rank, first times, the
  latest failure's error: the same row whatever the grouping;
- replies are matched after the batch's sends are written, and each send of the batch
  re-attributes the replies of its window: a reply's answer depends on the sends and requests
  in sight, never on the order they came in, as ``reattribute_replies`` already makes it when
  projected one by one;
- events of other kinds (requests, campaign, consent, erasure, control) are applied by their
  own handlers, in their place in the batch: consecutive message events form one run, and runs
  and the others follow the batch's order.

Attribution locks (``attribution_locks``): the batch takes at once, in key order, the locks of
every doctor it names (requests, replies) or whose phone is already known for its sends, so a
batch never holds one lock while it waits for a lower one. A send whose phone a request told
while the batch was being written takes its lock after its row (``reattribute_sends``), as in
an event projected alone.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import groupby

import asyncpg

from disparo_reporting import privacy
from disparo_reporting.attribution_locks import doctor_lock_key, lock_doctors
from disparo_reporting.message_facts import add_history, apply_facts, known_phones, record_replies
from disparo_reporting.metrics import (
    EVENTS_DUPLICATE,
    EVENTS_PROJECTED,
    MESSAGES_PROJECTED,
    PROJECTION_LAG,
)
from disparo_reporting.projections import (
    CONSUMER,
    HANDLERS,
    MESSAGE_EVENTS,
    carried_messages,
    describe,
    event_phones,
    reattribute_sends,
    sent_message_ids,
)
from disparo_shared.events import Event, utc_now
from disparo_shared.inbox import first_deliveries


async def project_batch(
    pool: asyncpg.Pool,
    events: Sequence[Event],
    reply_window: timedelta,
    now: Callable[[], datetime] = utc_now,
    live: bool = True,
) -> int:
    """Apply ``events`` (in stream order) once each, in one transaction; returns how many were
    new. Raises when any of them fails: then nothing of the batch is applied."""
    if not events:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        first_seen = await first_deliveries(conn, CONSUMER, [e.event_id for e in events])
        fresh: list[Event] = []
        for event in events:
            if event.event_id in first_seen:
                first_seen.discard(event.event_id)  # a second copy in the batch is a duplicate
                fresh.append(event)
        phones_of = [event_phones(event) for event in fresh]
        held = await _lock_doctors_of(conn, fresh, phones_of)
        for is_message_run, run in groupby(fresh, key=lambda e: isinstance(e, MESSAGE_EVENTS)):
            if is_message_run:
                await _apply_message_run(conn, list(run), reply_window, held)
            else:
                for event in run:
                    await HANDLERS[type(event)](conn, event, reply_window)
        if live:  # a replay forgets at its end
            carried = [
                (phone, event.occurred_at)
                for event, phones in zip(fresh, phones_of, strict=True)
                for phone in phones
            ]
            if carried:
                await privacy.forget_late(conn, [p for p, _ in carried], [t for _, t in carried])
    _count(events, fresh, now, live)
    return len(fresh)


async def _lock_doctors_of(
    conn: asyncpg.Connection, events: Sequence[Event], phones_of: Sequence[list[str]]
) -> set[int]:
    """Take, in key order, the locks of the doctors ``events`` name (``phones_of``, event by
    event) and of their sends' known phones; returns the keys held."""
    phones = [phone for named in phones_of for phone in named]
    sends = [message_id for event in events for message_id in sent_message_ids(event)]
    phones += await known_phones(conn, sends)
    await lock_doctors(conn, phones)
    return {doctor_lock_key(phone) for phone in phones}


async def _apply_message_run(
    conn: asyncpg.Connection, run: Sequence[Event], reply_window: timedelta, held: set[int]
) -> None:
    """Consecutive message events: their facts, then their history, then the replies their
    sends may now answer, then their own replies."""
    facts, history, replies = [], [], []
    for event in run:
        event_facts, event_history, event_replies = describe(event)
        facts += event_facts
        history += event_history
        replies += event_replies
    phones = await apply_facts(conn, facts)
    await add_history(conn, history)
    sends = [message_id for event in run for message_id in sent_message_ids(event)]
    await reattribute_sends(conn, sends, phones, held, reply_window)
    await record_replies(conn, replies, reply_window)


def _count(
    events: Sequence[Event], fresh: Sequence[Event], now: Callable[[], datetime], live: bool
) -> None:
    """Metrics, once the batch committed: projected and duplicate events by type, and the lag
    of the batch's last new event."""
    fresh_ids = {id(e) for e in fresh}
    for event in events:
        if id(event) in fresh_ids:
            EVENTS_PROJECTED.labels(type(event).__name__).inc()
            MESSAGES_PROJECTED.labels(type(event).__name__).inc(carried_messages(event))
        else:
            EVENTS_DUPLICATE.labels(type(event).__name__).inc()
    if live and fresh:
        PROJECTION_LAG.set(max(0.0, (now() - fresh[-1].occurred_at).total_seconds()))
