"""Doubtful sends settled by the provider's own word: sent once, never blindly sent twice.

A send is in doubt when nobody knows whether the provider took it:

- a replica died (``kill -9``, a lost node) with the message 'sending': when its lease runs out,
  the sender's next holder moves it to 'in_doubt' (``reclaim_sending_as=resolve``, the default);
- a provider call timed out (or its connection broke after the request went out): the provider
  may have taken it and only the answer was lost; the flush moves it to 'in_doubt' instead of
  scheduling a blind retry.

Every ``in_doubt_resolve_interval_seconds`` (1 s) each replica takes a batch of doubtful messages
(``SKIP LOCKED``, so replicas share them) and settles each by the first of these that can tell:

1. **an echo** (``echo_matching``): the provider's webhook that it sent something matching
   (Cloud ``sent`` status naming our id; Evolution ``send.message``) → 'sent' with the
   provider's id and time, ``message.sent`` in the same transaction, no second call;
2. **the provider's search** (``providers.sent_lookup``; Evolution ``/chat/findMessages``),
   asked ``in_doubt_lookup_after_seconds`` (3 s) after the doubt began, outside any
   transaction: a matching send found → 'sent' as above; the chat's history complete over the
   attempt's window and no match, once the provider's processing horizon has passed
   (``provider_processing_horizon_seconds``, 30 s after the doubt began) → the provider never
   took it → back in line. Before the horizon, "not sent" proves nothing: an overloaded provider
   keeps a request its caller gave up on and takes it later, so a resend then is a duplicate;
3. **the kind's policy** (``doubt_policy``), once the echo's grace is over
   (``in_doubt_grace_seconds``, 30 s, for senders that echo), the provider's processing horizon
   has passed and the provider was asked after it (``DoubtRules.policy_due``): at most once
   (campaigns, follow-ups) holds it 'in_doubt' for a person, told as ``message.failed`` with
   code ``in_doubt`` so the report counts it; at least once (replies) puts it back in line.

Worked example, an Evolution instance without webhooks, a replica killed with 12 sends in
flight: 45 s later (the message lease) the next holder moves the 12 to 'in_doubt'; 3 s later
the resolver asks Evolution about the 12 chats: 9 sends are found (settled as sent); the 3
absent from complete histories are asked about again until the horizon (30 s) has passed, then
sent, once. Only a provider that does not answer leaves
any to the policy.

Back in line, the attempt stays spent, so a message out of attempts is dead; ``message.failed``
tells which. An echo that arrives after a message went back in line comes too late: that
message may be sent twice, which is why the grace must exceed the webhook latency. Settlements
are fenced by attempt and by the 'in_doubt' state.

Every verdict is also kept in ``in_doubt_settlements`` (echoed, found, absent, resent, held, and
a person's: requeued, or ``person`` for "it did go out"), so what each policy touched can be
counted after a crash.

Entering the doubt publishes nothing; only its outcome is told, so reporting never sees a
message fail and then succeed for the same attempt.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from disparo_dispatcher import metrics, queue
from disparo_dispatcher.admission import CAMPAIGN_KIND
from disparo_dispatcher.doubt_policy import AT_LEAST_ONCE, DEFAULT_POLICIES, policy_for
from disparo_dispatcher.echo_matching import DoubtfulSend, RecordedEcho, body_digest, match_echoes
from disparo_dispatcher.providers.base import SenderAccount
from disparo_dispatcher.providers.sent_lookup import SentHistory, can_look_up
from disparo_dispatcher.queue import QUEUED
from disparo_dispatcher.quiet_hours import zone
from disparo_dispatcher.senders import MissingCredential, resolve_credential
from disparo_shared.events import Event, MessageFailed, MessagesSent, SentMessage
from disparo_shared.outbox import add_events
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "in_doubt.sql")

RESOLVE_BATCH = 500
LOOKUPS_AT_ONCE = 16  # provider searches in flight per resolver pass
HELD_ERROR_CODE = "in_doubt"

LookUp = Callable[[SenderAccount, str], Awaitable[SentHistory | None]]


def _everyone(sender_id: str) -> bool:
    return True


def _no_one(sender_id: str) -> bool:
    return False


@dataclass(frozen=True)
class DoubtRules:
    """How doubts are settled: the echo's grace and the matching window's slack, when the
    provider is asked, which senders echo and may be asked, and the per-kind policies."""

    grace: timedelta
    skew: timedelta
    time_zone: str  # of "today" for recipients' daily campaign counts
    lookup_after: timedelta = timedelta(seconds=3)
    # How long after the doubt began the provider may still take the call (its queue).
    processing_horizon: timedelta = timedelta(0)
    policies: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    echoes_from: Callable[[str], bool] = _everyone
    looks_up: Callable[[str], bool] = _no_one

    def policy_due(self, sender_id: str | None, provider: str | None, since: datetime) -> datetime:
        """When nothing more can be waited for: after the echo's grace (senders that echo),
        after the provider's processing horizon, and after two chances to ask the provider, one
        past the horizon (those that can be asked); at the lookup delay when nothing applies.
        Grace 30 s, lookup delay 3 s, no horizon: an echoing Evolution sender waits 30 s, a
        silent one 6 s, a silent Cloud number 3 s; with a 30 s horizon, 33 s, 33 s and 30 s."""
        wait = max(self.lookup_after, self.processing_horizon)
        if sender_id is not None and self.echoes_from(sender_id):
            wait = max(wait, self.grace)
        if (
            sender_id is not None
            and provider
            and can_look_up(provider)
            and self.looks_up(sender_id)
        ):
            wait = max(wait, 2 * self.lookup_after, self.processing_horizon + self.lookup_after)
        return since + wait


FIRST_PAGE = (datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0))


@dataclass(frozen=True)
class Resolution:
    """What one page settled: taken (locked and looked at), sent on an echo or on the
    provider's search (``found``), put back (``given_up``, of which ``absent`` the provider
    said it never took), held for a person; and where the next page starts (``None`` after
    the last page)."""

    taken: int = 0
    sent: int = 0
    given_up: int = 0
    found: int = 0
    absent: int = 0
    held: int = 0
    next_page: tuple[datetime, UUID] | None = None

    def __add__(self, other: "Resolution") -> "Resolution":
        return Resolution(
            self.taken + other.taken,
            self.sent + other.sent,
            self.given_up + other.given_up,
            self.found + other.found,
            self.absent + other.absent,
            self.held + other.held,
        )


async def resolve_all_in_doubt(
    conn: asyncpg.Connection,
    now: datetime,
    rules: DoubtRules,
    page_size: int = RESOLVE_BATCH,
    look_up: LookUp | None = None,
) -> Resolution:
    """Settle every doubtful message, a page at a time; returns the totals."""
    cursor: tuple[datetime, UUID] | None = FIRST_PAGE
    total = Resolution()
    while cursor is not None:
        page = await resolve_in_doubt(conn, now, rules, cursor, page_size, look_up)
        total = total + page
        cursor = page.next_page
    return total


async def resolve_in_doubt(
    conn: asyncpg.Connection,
    now: datetime,
    rules: DoubtRules,
    after: tuple[datetime, UUID] = FIRST_PAGE,
    limit: int = RESOLVE_BATCH,
    look_up: LookUp | None = None,
) -> Resolution:
    """Settle up to ``limit`` doubtful messages after ``after``: echoes in one transaction,
    then the provider's search (no transaction open), then its verdicts and the policies."""
    async with conn.transaction():
        rows = await conn.fetch(SQL.take_in_doubt, limit, *after)
        if not rows:
            return Resolution()
        doubtful = [_doubtful(row) for row in rows]
        echoes, owned = await _candidate_echoes(conn, doubtful, rules.skew)
        matched = match_echoes(doubtful, echoes, rules.skew, owned)
        by_id = {row["message_id"]: row for row in rows}
        sent_ids = await _settle_sent(conn, [by_id[i] for i in matched], matched, now, rules)
        await add_events(conn, _sent_events([(by_id[i], matched[i]) for i in sorted(sent_ids)]))
        await record_settlements(conn, [(by_id[i], "echoed") for i in sent_ids], now)
    metrics.IN_DOUBT_SETTLED.labels("sent").inc(len(sent_ids))
    last = rows[-1]
    page = Resolution(
        taken=len(rows),
        sent=len(sent_ids),
        next_page=(last["in_doubt_since"], last["message_id"]) if len(rows) == limit else None,
    )

    open_doubts = [d for d in doubtful if d.message_id not in matched]
    askable = [
        d
        for d in open_doubts
        if look_up is not None
        and d.in_doubt_since + rules.lookup_after <= now
        and d.provider is not None
        and can_look_up(d.provider)
        and rules.looks_up(by_id[d.message_id]["sender_id"])
    ]
    found, absent = await _ask_providers(conn, askable, by_id, now, rules, look_up)
    due = [
        d
        for d in open_doubts
        if d.message_id not in found
        and d.message_id not in absent
        and rules.policy_due(by_id[d.message_id]["sender_id"], d.provider, d.in_doubt_since) <= now
    ]
    if not (found or absent or due):
        return page
    verdicts = await _settle_verdicts(conn, by_id, found, absent, due, now, rules)
    return replace(page + verdicts, next_page=page.next_page)


def _doubtful(row: asyncpg.Record) -> DoubtfulSend:
    return DoubtfulSend(
        message_id=row["message_id"],
        attempt=row["attempt"],
        provider=row["provider"],
        address=row["address"],
        phone=row["phone"],
        body_sha256=body_digest(row["body"]),
        claimed_at=row["claimed_at"],
        in_doubt_since=row["in_doubt_since"],
    )


async def _ask_providers(
    conn: asyncpg.Connection,
    askable: list[DoubtfulSend],
    by_id: Mapping[UUID, asyncpg.Record],
    now: datetime,
    rules: DoubtRules,
    look_up: LookUp | None,
) -> tuple[dict[UUID, RecordedEcho], set[UUID]]:
    """Ask each sender's provider what it sent to each doubtful chat (once per chat, a few at
    a time); returns the sends found, and the messages the provider proves it never took.

    A found send may lie after the doubt began (a request still inside the provider then), so
    the window runs to ``now``. Absence is proven only where the history is complete from
    before the attempt was claimed, and only once the provider's processing horizon has passed
    since the doubt began: until then it may still take the request we gave up on.
    """
    if not askable or look_up is None:
        return {}, set()
    chats = {(by_id[d.message_id]["sender_id"], d.phone): by_id[d.message_id] for d in askable}
    gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def ask(row: asyncpg.Record) -> SentHistory | None:
        try:
            account = SenderAccount(
                sender_id=row["sender_id"],
                provider=row["provider"],
                address=row["address"],
                base_url=row["base_url"],
                credential=resolve_credential(row["credential_ref"]),
            )
        except MissingCredential:
            return None
        async with gate:
            return await look_up(account, row["phone"])

    answers = await asyncio.gather(*(ask(row) for row in chats.values()))
    histories = dict(zip(chats, answers, strict=True))
    metrics.IN_DOUBT_LOOKUPS.labels("answered").inc(sum(1 for a in answers if a is not None))
    metrics.IN_DOUBT_LOOKUPS.labels("failed").inc(sum(1 for a in answers if a is None))
    sends = {
        send.provider_message_id: send
        for history in answers
        if history is not None
        for send in history.sends
    }
    owned = {
        row["provider_message_id"] for row in await conn.fetch(SQL.owned_provider_ids, list(sends))
    }
    answered = [
        d for d in askable if histories[(by_id[d.message_id]["sender_id"], d.phone)] is not None
    ]
    # The provider's word covers the attempt until now, not only until the doubt began.
    widened = [replace(d, in_doubt_since=now) for d in answered]
    found = match_echoes(widened, list(sends.values()), rules.skew, owned)
    absent = {
        d.message_id
        for d in answered
        if d.message_id not in found
        and d.claimed_at is not None
        and d.in_doubt_since + rules.processing_horizon <= now
        and histories[(by_id[d.message_id]["sender_id"], d.phone)].complete_since
        <= d.claimed_at - rules.skew
    }
    return found, absent


async def _settle_verdicts(
    conn: asyncpg.Connection,
    by_id: Mapping[UUID, asyncpg.Record],
    found: dict[UUID, RecordedEcho],
    absent: set[UUID],
    due: list[DoubtfulSend],
    now: datetime,
    rules: DoubtRules,
) -> Resolution:
    """Apply the providers' verdicts and the policies, fenced: a doubt settled meanwhile by
    another replica (or held, or sent on an echo) is skipped."""
    resend = set(absent)
    hold = set()
    for d in due:
        if policy_for(by_id[d.message_id]["kind"], rules.policies) == AT_LEAST_ONCE:
            resend.add(d.message_id)
        else:
            hold.add(d.message_id)
    wanted = [*found, *resend, *hold]
    async with conn.transaction():
        locked = await conn.fetch(SQL.lock_in_doubt, wanted, [by_id[i]["attempt"] for i in wanted])
        still = {row["message_id"] for row in locked}
        found = {i: echo for i, echo in found.items() if i in still}
        sent_ids = await _settle_sent(conn, [by_id[i] for i in found], found, now, rules)
        events: list[Event] = _sent_events([(by_id[i], found[i]) for i in sorted(sent_ids)])
        back = sorted(i for i in resend if i in still)
        given_up = (
            await conn.fetch(SQL.give_up_in_doubt, back, [by_id[i]["attempt"] for i in back], now)
            if back
            else []
        )
        events += [_failed_event(row) for row in given_up]
        held_ids = sorted(i for i in hold if i in still)
        held = (
            await conn.fetch(
                SQL.hold_in_doubt, held_ids, [by_id[i]["attempt"] for i in held_ids], now
            )
            if held_ids
            else []
        )
        events += [_held_event(row) for row in held]
        await add_events(conn, events)
        await record_settlements(
            conn,
            [(by_id[i], "found") for i in sent_ids]
            + [
                (by_id[row["message_id"]], "absent" if row["message_id"] in absent else "resent")
                for row in given_up
            ]
            + [(by_id[row["message_id"]], "held") for row in held],
            now,
        )
    metrics.IN_DOUBT_SETTLED.labels("found").inc(len(sent_ids))
    for i in sent_ids:
        metrics.IN_DOUBT_FOUND_AFTER.observe((now - by_id[i]["in_doubt_since"]).total_seconds())
    for row in given_up:
        metrics.IN_DOUBT_SETTLED.labels("retried" if row["state"] == QUEUED else "dead").inc()
    metrics.IN_DOUBT_SETTLED.labels("held").inc(len(held))
    return Resolution(
        sent=len(sent_ids),
        found=len(sent_ids),
        given_up=len(given_up),
        absent=sum(1 for row in given_up if row["message_id"] in absent),
        held=len(held),
    )


async def _candidate_echoes(
    conn: asyncpg.Connection, doubtful: list[DoubtfulSend], skew: timedelta
) -> tuple[list[RecordedEcho], set[str]]:
    """Echoes naming these messages, and those that may match one by content and time."""
    by_content = [d for d in doubtful if d.provider and d.address and d.claimed_at is not None]
    earliest = min((d.claimed_at for d in by_content), default=None)
    latest = max((d.in_doubt_since for d in by_content), default=None)
    rows = await conn.fetch(
        SQL.find_echoes_for_in_doubt,
        [d.message_id for d in doubtful],
        [d.provider for d in by_content],
        [d.address for d in by_content],
        [d.phone for d in by_content],
        [d.body_sha256 for d in by_content],
        (earliest - skew) if earliest else None,
        (latest + skew) if latest else None,
    )
    echoes = [
        RecordedEcho(
            provider=row["provider"],
            provider_message_id=row["provider_message_id"],
            address=row["address"],
            message_id=row["message_id"],
            recipient=row["recipient"],
            body_sha256=row["body_sha256"],
            at=row["at"],
        )
        for row in rows
    ]
    return echoes, {row["provider_message_id"] for row in rows if row["owned"]}


async def _settle_sent(
    conn: asyncpg.Connection,
    rows: list[asyncpg.Record],
    matched: dict,
    now: datetime,
    rules: DoubtRules,
) -> set:
    """Mark matched messages sent (fenced) and record their recipients' pacing; returns ids."""
    if not rows:
        return set()
    confirmed = await conn.fetch(
        SQL.settle_in_doubt_as_sent,
        [row["message_id"] for row in rows],
        [row["attempt"] for row in rows],
        [matched[row["message_id"]].provider_message_id for row in rows],
        [matched[row["message_id"]].at for row in rows],
        now,
    )
    sent_ids = {row["message_id"] for row in confirmed}
    done = [row for row in rows if row["message_id"] in sent_ids]
    await queue.record_recipient_sends(
        conn,
        [row["phone"] for row in done],
        [row["sender_id"] for row in done],
        # Pacing from the latest moment the send may have gone, not the provider's stamp.
        [_paced_at(matched[row["message_id"]].at, row["in_doubt_since"]) for row in done],
        [1 if row["kind"] == CAMPAIGN_KIND else 0 for row in done],
        now.astimezone(zone(rules.time_zone)).date(),
    )
    return sent_ids


def _paced_at(provider_at: datetime, in_doubt_since: datetime | None) -> datetime:
    """When a settled doubt counts as sent for pair spacing: the latest moment it may have gone.

    Providers stamp in whole seconds (a send at 10:00:05.7 reads 10:00:05), so it went before
    the stamp's next second, and before its doubt began: ``_paced_at(10:00:05, 10:00:09)`` →
    10:00:06; ``_paced_at(10:00:05, 10:00:05.4)`` → 10:00:05.4.
    """
    latest = provider_at + timedelta(seconds=1)
    if in_doubt_since is not None:
        latest = min(latest, in_doubt_since)
    return max(provider_at, latest)


def _sent_events(settled: list[tuple[asyncpg.Record, RecordedEcho]]) -> list[MessagesSent]:
    """One ``message.sent`` for the sends a page proved (none for none); a page is at most
    ``RESOLVE_BATCH`` messages, well within one event."""
    if not settled:
        return []
    return [
        MessagesSent(
            messages=[sent_message(row, echo.provider_message_id, echo.at) for row, echo in settled]
        )
    ]


def sent_message(row: asyncpg.Record, provider_message_id: str, sent_at: datetime) -> SentMessage:
    """A doubtful send, settled as gone out, as ``message.sent`` tells it."""
    return SentMessage(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        contact_id=row["contact_id"],
        conversation_id=row["conversation_id"],
        kind=row["kind"],
        provider_message_id=provider_message_id,
        sender=row["sender_id"],
        attempt=row["attempt"],
        sent_at=sent_at,
    )


def _held_event(row: asyncpg.Record) -> MessageFailed:
    """A doubt held for a person: not final (it may be requeued), not retried by itself."""
    return MessageFailed(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        attempt=row["attempt"],
        error_code=HELD_ERROR_CODE,
        error="nothing can tell whether the provider took it; held for a person (at most once)",
        retryable=False,
        next_attempt_at=None,
        final=False,
    )


def _failed_event(row: asyncpg.Record) -> MessageFailed:
    retryable = row["state"] == QUEUED
    return MessageFailed(
        message_id=row["message_id"],
        campaign_id=row["campaign_id"],
        attempt=row["attempt"],
        error_code=row["last_error_code"] or "in_doubt",
        error=(row["last_error"] or "") + " (the provider did not say it sent it)",
        retryable=retryable,
        next_attempt_at=row["due_at"] if retryable else None,
        final=not retryable,
    )


async def prune_echoes(conn: asyncpg.Connection, now: datetime, retention: timedelta) -> None:
    """Forget echoes past their retention (no doubt lasts that long), and the settlements."""
    await conn.execute(SQL.prune_echoes, now - retention)
    await conn.execute(SQL.prune_settlements, now - retention)


async def record_settlements(
    conn: asyncpg.Connection, settled: Sequence[tuple[Mapping, str]], now: datetime
) -> None:
    """Keep how each doubt was settled (``outcome``: echoed, found, absent, resent, held,
    requeued, person), so what each policy touched can be counted (``SQL.settlements_by_outcome``
    after a crash, ``disparo_dispatcher_in_doubt_verdicts_total`` live; a verdict already kept
    is not counted twice)."""
    if not settled:
        return
    recorded = await conn.fetch(
        SQL.record_settlements,
        [row["message_id"] for row, _ in settled],
        [row["attempt"] for row, _ in settled],
        [row["kind"] for row, _ in settled],
        [outcome for _, outcome in settled],
        now,
    )
    for verdict, count in Counter(row["outcome"] for row in recorded).items():
        metrics.IN_DOUBT_VERDICTS.labels(verdict).inc(count)
