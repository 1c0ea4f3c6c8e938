"""Rebuilds the projections from scratch by replaying the streams from their first message.

Why it is safe while the service keeps consuming: the tables and reporting's inbox entries are
emptied first, then each stream's last sequence is read; an ephemeral ordered consumer replays
every message up to that sequence through the same ``project`` the live subscribers use, and
anything newer reaches the live durable consumers as usual. An event both paths see is applied
once, because both record it in the same inbox. Streams keep ``DISPARO_NATS_MAX_AGE_DAYS``
(30 by default), so a rebuild restores what happened in that span; erased doctors are
forgotten again at the end (``privacy.forget_erased_phones``).

Run it with ``POST /v1/admin/rebuild`` on a running service, or offline with
``python -m disparo_reporting rebuild``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from disparo_reporting import privacy
from disparo_reporting.projections import CONSUMER, EVENT_TYPES, SQL, parse_event, project
from disparo_shared.db import release_session_lock
from disparo_shared.events import subjects, utc_now
from disparo_shared.logging import get_logger
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import qualified, stream_name

log = get_logger(__name__)

_LOCK_KEY = 0x7265706C6179  # "replay": one rebuild at a time per database
REPLAYED_STREAMS: tuple[str, ...] = (
    # campaigns and consent first, so message facts land on known campaigns and phones
    subjects.STREAM_CAMPAIGNS,
    subjects.STREAM_CONTACTS,
    subjects.STREAM_COMMANDS,
    subjects.STREAM_MESSAGES,
    subjects.STREAM_CONVERSATIONS,
)
"""Each replayed whole (every subject, ``>``): the replay ends at the stream's last sequence,
which may be any of its subjects (an urgent request, a stage change that is not projected)."""
NOT_PROJECTED = frozenset({subjects.CONVERSATION_STAGE_CHANGED})


class RebuildInProgress(RuntimeError):
    """Another rebuild holds the lock; running two at once would interleave truncations."""


@dataclass(frozen=True)
class RebuildResult:
    replayed: int
    applied: int
    by_stream: dict[str, int]


async def rebuild(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    nats_settings: NatsSettings,
    reply_window: timedelta,
    idle_timeout_seconds: float = 10.0,
    now: Callable[[], datetime] = utc_now,
) -> RebuildResult:
    """Truncate the projections, then replay every stream up to its current last message."""
    async with pool.acquire() as lock_conn:
        if not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
            raise RebuildInProgress("a rebuild is already running")
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(SQL.truncate_projections)
                await conn.execute(SQL.forget_inbox, CONSUMER)
            by_stream: dict[str, int] = {}
            applied = 0
            for stream in REPLAYED_STREAMS:
                count, stream_applied = await _replay_stream(
                    pool,
                    js,
                    nats_settings,
                    stream,
                    reply_window,
                    idle_timeout_seconds,
                    now,
                )
                by_stream[stream] = count
                applied += stream_applied
            await privacy.forget_erased_phones(pool)
            log.info("projections rebuilt", replayed=sum(by_stream.values()), applied=applied)
            return RebuildResult(sum(by_stream.values()), applied, by_stream)
        finally:
            await release_session_lock(lock_conn, "SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def _replay_stream(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    nats_settings: NatsSettings,
    stream: str,
    reply_window: timedelta,
    idle_timeout_seconds: float,
    now: Callable[[], datetime],
) -> tuple[int, int]:
    name = stream_name(nats_settings.stream_prefix, stream)
    state = (await js.stream_info(name)).state
    if state.messages == 0:
        return 0, 0
    last_seq = state.last_seq
    subscription = await js.subscribe(
        qualified(nats_settings.stream_prefix, ">"),  # every subject of the stream
        stream=name,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
    )
    replayed = applied = 0
    try:
        while True:
            try:
                msg = await subscription.next_msg(timeout=idle_timeout_seconds)
            except TimeoutError as exc:  # nats' TimeoutError subclasses it
                raise TimeoutError(
                    f"replay of {name} stalled at {replayed} messages before sequence {last_seq}"
                ) from exc
            event_subject = msg.subject.removeprefix(nats_settings.stream_prefix)
            replayed += 1
            if event_subject in EVENT_TYPES:
                event = parse_event(event_subject, msg.data)
                if await project(pool, event, reply_window, now, live=False):
                    applied += 1
            elif event_subject not in NOT_PROJECTED:
                log.warning("replay skipped an unknown subject", subject=event_subject)
            if msg.metadata.sequence.stream >= last_seq:
                return replayed, applied
    finally:
        await subscription.unsubscribe()
