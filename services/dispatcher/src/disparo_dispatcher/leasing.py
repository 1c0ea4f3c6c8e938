"""The lease loop: hold a fair share of the senders and keep every claimed message's lease.

Every ``sender_lease_renew_seconds`` this replica beats, renews its sender leases, gives back
senders above its fair share or takes free ones below it (the statements and the rule are in
``sender_leases``), and renews the leases of its own sends still in flight or unflushed. It then
reclaims the messages a dead replica left 'sending' on its senders — in doubt when the sender's
provider echoes its sends (``reclaim_sending_as=resolve``), back in line (``retry``) or dead —
and moves queued messages off senders that cannot send.
"""

from datetime import date, datetime, timedelta

import asyncpg

from disparo_dispatcher import metrics, queue, sender_leases, senders
from disparo_dispatcher.clock import Clock, Monotonic, local_today
from disparo_dispatcher.queue import IN_DOUBT, QUEUED
from disparo_dispatcher.quiet_hours import local_day_start
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.results import Results
from disparo_dispatcher.senders import PlacementCache, Sender, placement
from disparo_dispatcher.sending import LEASE_MARGIN_SECONDS, SendDriver
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.slots import (
    ACTIVE,
    DRAINING,
    STOPPED,
    SenderSlot,
    release_buffer,
    stop_slot,
)
from disparo_shared.events import Event, MessageFailed
from disparo_shared.logging import get_logger
from disparo_shared.outbox import add_events

log = get_logger(__name__)

ORPHAN_MOVE_BATCH = 5000


class LeaseKeeper:
    """Decides which senders this replica holds, and keeps its messages' leases alive."""

    def __init__(
        self,
        settings: DispatcherSettings,
        replica_id: str,
        placement_cache: PlacementCache,
        slots: dict[str, SenderSlot],
        driver: SendDriver,
        recipients: Recipients,
        results: Results,
        *,
        clock: Clock,
        monotonic: Monotonic,
    ) -> None:
        self._settings = settings
        self._replica_id = replica_id
        self._placement = placement_cache
        self._slots = slots
        self._driver = driver
        self._recipients = recipients
        self._results = results
        self._clock = clock
        self._monotonic = monotonic

    async def lease_tick(self, pool: asyncpg.Pool) -> None:
        settings = self._settings
        now = self._clock()
        today = local_today(now, settings.time_zone)
        lease_until = now + timedelta(seconds=settings.sender_lease_seconds)
        async with pool.acquire() as conn:
            await senders.resume_rested_senders(conn, now)
            live = await sender_leases.heartbeat(conn, self._replica_id, now, lease_until)
            everyone = {s.sender_id: s for s in await senders.list_senders(conn)}
            current = placement(list(everyone.values()), now, today, settings.warmup_daily_caps)
            self._placement.replace(current)

            deadline = await self._renew_senders(conn, everyone, today, lease_until)
            share = sender_leases.fair_share(len(current.sender_ids), live)
            await self._give_back(conn, share)
            await self._take_more(conn, share, now, today, lease_until, deadline)

            await self._renew_held_leases(conn, now)
            await self._reclaim(conn, now)
            if current.unsendable or current.sender_ids:
                await queue.reassign_orphans(
                    conn,
                    current.sender_ids,
                    current.cumulative_weights,
                    current.unsendable,
                    ORPHAN_MOVE_BATCH,
                )
        self._recipients.forget_before(now - timedelta(seconds=settings.pair_spacing_seconds + 60))
        metrics.SENDERS_HELD.set(sum(1 for s in self._slots.values() if s.state == ACTIVE))

    async def give_back_all(self, pool: asyncpg.Pool) -> None:
        """On a clean stop: release every sender and leave the live replicas at once."""
        try:
            async with pool.acquire() as conn:
                await sender_leases.release(conn, self._replica_id, list(self._slots))
                await sender_leases.forget(conn, self._replica_id)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not give leases back; they expire by themselves", error=str(exc))

    async def _renew_senders(
        self,
        conn: asyncpg.Connection,
        everyone: dict[str, Sender],
        today: date,
        lease_until: datetime,
    ) -> float:
        """Renew the held sender leases; stop the lost ones. Returns the monotonic deadline
        the renewed ones may send until: one renewal period before the lease ends."""
        settings = self._settings
        held = [sid for sid, slot in self._slots.items() if slot.state != STOPPED]
        kept = await sender_leases.renew(conn, self._replica_id, held, lease_until)
        deadline = (
            self._monotonic() + settings.sender_lease_seconds - settings.sender_lease_renew_seconds
        )
        for sid in held:
            slot = self._slots[sid]
            if sid not in kept:
                log.info("sender lease lost", sender=sid)
                stop_slot(slot, self._clock(), self._recipients, self._results)
                continue
            slot.lease_deadline = deadline
            slot.refresh(everyone[sid], today, settings.warmup_daily_caps)
        return deadline

    async def _give_back(self, conn: asyncpg.Connection, share: int) -> None:
        """Drain the senders above the fair share; release or forget those whose sends ended."""
        active = sorted(sid for sid, slot in self._slots.items() if slot.state == ACTIVE)
        for sid in active[share:]:
            self._slots[sid].state = DRAINING
            release_buffer(self._slots[sid], self._clock(), self._recipients, self._results)
        finished = [
            sid
            for sid, slot in self._slots.items()
            if slot.state in (DRAINING, STOPPED) and slot.in_flight == 0
        ]
        giving_back = [sid for sid in finished if self._slots[sid].state == DRAINING]
        await sender_leases.release(conn, self._replica_id, giving_back)
        for sid in finished:
            self._driver.forget(self._slots.pop(sid))

    async def _take_more(
        self,
        conn: asyncpg.Connection,
        share: int,
        now: datetime,
        today: date,
        lease_until: datetime,
        deadline: float,
    ) -> None:
        """Below the fair share, and with nothing still draining, lease free senders."""
        holding = sum(1 for slot in self._slots.values() if slot.state == ACTIVE)
        draining = sum(1 for slot in self._slots.values() if slot.state == DRAINING)
        if draining or holding >= share:
            return
        rows = await sender_leases.acquire(
            conn, self._replica_id, now, lease_until, share - holding
        )
        if rows:
            await self._take_over([Sender.from_row(r) for r in rows], conn, now, today, deadline)

    async def _take_over(
        self,
        taken: list[Sender],
        conn: asyncpg.Connection,
        now: datetime,
        today: date,
        deadline: float,
    ) -> None:
        """Start sending for newly leased senders; pause those whose configuration cannot send."""
        since = local_day_start(now, self._settings.time_zone)
        sent = await queue.count_sent_since(conn, [s.sender_id for s in taken], since)
        broken: list[tuple[str, str]] = []
        for sender in taken:
            try:
                slot = await self._driver.start(
                    sender, today, sent.get(sender.sender_id, 0), deadline
                )
            except (LookupError, ValueError) as exc:
                broken.append((sender.sender_id, f"configuration: {exc}"))
                continue
            self._slots[sender.sender_id] = slot
            log.info("sender lease taken", sender=sender.sender_id, replica=self._replica_id)
        for sender_id, reason in broken:
            log.error("sender cannot send; pausing it", sender=sender_id, reason=reason)
            await senders.pause_senders(
                conn,
                [sender_id],
                now + timedelta(seconds=self._settings.pause_sender_seconds),
                reason,
            )

    async def _renew_held_leases(self, conn: asyncpg.Connection, now: datetime) -> None:
        """Extend the leases of sends in flight or awaiting their flush that would run out
        before the next tick or two: their outcome is on its way, and only this replica may
        record it (a reclaim elsewhere would put them in doubt, or send them again)."""
        settings = self._settings
        held = self._results.held
        mono = self._monotonic()
        soon = mono + 2 * settings.sender_lease_renew_seconds + LEASE_MARGIN_SECONDS
        due = [mid for mid, ends in held.items() if ends < soon]
        if not due:
            return
        renewed = await queue.renew_message_leases(
            conn, due, self._replica_id, now + timedelta(seconds=settings.message_lease_seconds)
        )
        ends = mono + settings.message_lease_seconds
        for mid in renewed:
            if mid in held:
                held[mid] = ends

    async def _reclaim(self, conn: asyncpg.Connection, now: datetime) -> None:
        """Take back the expired 'sending' messages of the active senders, other than ours."""
        mine = [sid for sid, slot in self._slots.items() if slot.state == ACTIVE]
        reclaimed = await queue.reclaim_expired_leases(
            conn,
            mine,
            now,
            retry=self._settings.reclaim_sending_as != "dead",
            in_doubt_senders=[sid for sid in mine if self._resolves_doubts(sid)],
            held=self._held_ids(),
        )
        if reclaimed:
            log.warning("reclaimed messages of a stopped replica", count=len(reclaimed))
            await publish_reclaimed(conn, reclaimed, now)

    def _held_ids(self) -> list:
        """Every message this replica still knows as 'sending': buffered, in flight, or with
        an outcome or settlement waiting for the flush."""
        ids = set(self._results.message_ids())
        for slot in self._slots.values():
            ids.update(message.message_id for message in slot.buffered())
        return list(ids)

    def _resolves_doubts(self, sender_id: str) -> bool:
        """Whether a crashed replica's sends on this sender wait 'in_doubt' to be settled by
        an echo, the provider's search or the kind's policy (``in_doubt``)."""
        return self._settings.reclaim_sending_as == "resolve"


async def publish_reclaimed(conn: asyncpg.Connection, rows: list, now: datetime) -> None:
    """``message.failed`` for reclaimed messages put back or dead; doubts tell theirs later."""
    doubtful = sum(1 for row in rows if row["state"] == IN_DOUBT)
    if doubtful:
        metrics.IN_DOUBT_ENTERED.labels("lease_expired").inc(doubtful)
    events: list[Event] = [
        MessageFailed(
            message_id=row["message_id"],
            campaign_id=row["campaign_id"],
            attempt=row["attempt"],
            error_code="lease_expired",
            error="the replica sending it stopped before recording the outcome",
            retryable=row["state"] == QUEUED,
            next_attempt_at=now if row["state"] == QUEUED else None,
            final=row["state"] != QUEUED,
        )
        for row in rows
        if row["state"] != IN_DOUBT
    ]
    await add_events(conn, events)
