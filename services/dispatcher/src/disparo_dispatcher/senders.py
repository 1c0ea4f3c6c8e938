"""The sender pool: WhatsApp numbers, their health, and where new contacts go.

A sender is *sendable* when it is active, or paused with its rest over. New contacts spread over
sendable senders weighted by what each can send today (``rate_limits.sender_weight``), so a number
on warm-up day 1 gets a handful of contacts while mature numbers take the bulk. A contact then
sticks to the number that last talked to it. When a number is paused (131048 spam limit, revoked
credentials) or banned, its queued messages — replies included — move to other numbers and the
contacts stick to their new number from then on: a reply from another of our numbers is better
than a reply a day late, and pushing a flagged number gets it banned.
"""

import math
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate
from pathlib import Path

import asyncpg

from disparo_dispatcher.providers.base import SenderAccount
from disparo_dispatcher.quiet_hours import zone
from disparo_dispatcher.rate_limits import daily_cap, sender_weight
from disparo_dispatcher.settings import DispatcherSettings, SenderSeed
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "senders.sql")

ACTIVE = "active"
PAUSED = "paused"
BANNED = "banned"
STATUSES = (ACTIVE, PAUSED, BANNED)


class MissingCredential(LookupError):
    """A sender's ``env:NAME`` reference names a variable that is not set."""


@dataclass(frozen=True)
class Sender:
    sender_id: str
    provider: str
    address: str
    base_url: str
    credential_ref: str
    rate_per_second: int
    daily_limit: int | None
    warmup_started_on: date | None
    status: str
    paused_until: datetime | None
    pause_reason: str | None
    lease_owner: str | None
    lease_until: datetime | None
    waba_id: str | None = None
    portfolio: str | None = None
    display_phone_number: str | None = None
    quality: str = "GREEN"

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "Sender":
        return cls(**{field: row[field] for field in cls.__dataclass_fields__})

    def sendable(self, now: datetime) -> bool:
        if self.status == ACTIVE:
            return True
        return self.status == PAUSED and self.paused_until is not None and self.paused_until <= now

    def account(
        self, environ: Mapping[str, str] = os.environ, declared: Collection[str] | None = None
    ) -> SenderAccount:
        return SenderAccount(
            sender_id=self.sender_id,
            provider=self.provider,
            address=self.address,
            base_url=self.base_url,
            credential=resolve_credential(self.credential_ref, environ, declared),
        )


def resolve_credential(
    reference: str, environ: Mapping[str, str] = os.environ, declared: Collection[str] | None = None
) -> str:
    """The secret a reference stands for: ``env:NAME`` reads ``NAME``; anything else is literal.

    Secrets live in the process environment (a Kubernetes Secret), never in the database; the
    literal form is for a laptop against the simulator. With ``declared``, only those variables
    are read: a row written before the sender policy existed cannot read ``DATABASE_URL``.
    """
    if reference.startswith("env:"):
        name = reference[4:]
        if declared is not None and name not in declared:
            raise MissingCredential(f"credential variable {name} is not a declared one")
        try:
            return environ[name]
        except KeyError:
            raise MissingCredential(f"credential variable {name} is not set") from None
    return reference


@dataclass(frozen=True)
class Placement:
    """Where new contacts go right now: sendable senders and their running weight totals."""

    sender_ids: tuple[str, ...] = ()
    cumulative_weights: tuple[int, ...] = ()
    unsendable: tuple[str, ...] = ()


def placement(
    senders: Sequence[Sender], now: datetime, today: date, warmup_caps: list[int]
) -> Placement:
    """The weighted draw over the senders that can send today (see module docstring)."""
    sendable = [s for s in senders if s.sendable(now)]
    weights = [
        sender_weight(
            s.rate_per_second, daily_cap(s.daily_limit, s.warmup_started_on, today, warmup_caps)
        )
        for s in sendable
    ]
    return Placement(
        sender_ids=tuple(s.sender_id for s in sendable),
        cumulative_weights=tuple(accumulate(weights)),
        unsendable=tuple(s.sender_id for s in senders if not s.sendable(now)),
    )


async def seed_senders(conn: asyncpg.Connection, seeds: Sequence[SenderSeed]) -> None:
    """Upsert the configured senders (their status and leases are kept)."""
    for seed in seeds:
        await upsert_sender(conn, seed)


async def upsert_sender(conn: asyncpg.Connection, seed: SenderSeed) -> Sender:
    row = await conn.fetchrow(
        SQL.upsert_sender,
        seed.sender_id,
        seed.provider,
        seed.address,
        seed.base_url,
        seed.credential_ref,
        seed.rate_per_second,
        seed.daily_limit,
        seed.warmup_started_on,
        seed.waba_id,
        seed.portfolio or seed.waba_id,
        seed.display_phone_number,
    )
    return Sender.from_row(row)


async def insert_sender(conn: asyncpg.Connection, seed: SenderSeed) -> Sender | None:
    """Create a sender; ``None`` when the id is taken."""
    row = await conn.fetchrow(
        SQL.insert_sender,
        seed.sender_id,
        seed.provider,
        seed.address,
        seed.base_url,
        seed.credential_ref,
        seed.rate_per_second,
        seed.daily_limit,
        seed.warmup_started_on,
        seed.waba_id,
        seed.portfolio or seed.waba_id,
        seed.display_phone_number,
    )
    return Sender.from_row(row) if row else None


async def save_sender(conn: asyncpg.Connection, sender: Sender) -> Sender | None:
    row = await conn.fetchrow(
        SQL.update_sender,
        sender.sender_id,
        sender.provider,
        sender.address,
        sender.base_url,
        sender.credential_ref,
        sender.rate_per_second,
        sender.daily_limit,
        sender.warmup_started_on,
        sender.status,
        sender.paused_until,
        sender.pause_reason,
    )
    return Sender.from_row(row) if row else None


async def get_sender(conn: asyncpg.Connection, sender_id: str) -> Sender | None:
    row = await conn.fetchrow(SQL.get_sender, sender_id)
    return Sender.from_row(row) if row else None


async def list_senders(conn: asyncpg.Connection) -> list[Sender]:
    return [Sender.from_row(row) for row in await conn.fetch(SQL.list_senders)]


async def pause_senders(
    conn: asyncpg.Connection, sender_ids: Sequence[str], until: datetime, reason: str
) -> None:
    if sender_ids:
        await conn.execute(SQL.pause_senders, list(sender_ids), until, reason)


async def resume_rested_senders(conn: asyncpg.Connection, now: datetime) -> list[str]:
    return [row["sender_id"] for row in await conn.fetch(SQL.resume_rested_senders, now)]


class PlacementCache:
    """Where new contacts go, shared by the enqueue handler and the send loop.

    The lease loop refreshes it every few seconds; a reader finding it older than ``max_age``
    (no loop running, e.g. a replica that only consumes) reloads it from the database itself.
    """

    def __init__(
        self, settings: DispatcherSettings, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self._value = Placement()
        self._loaded_at = -math.inf
        self.max_age = 2 * settings.sender_lease_renew_seconds

    def replace(self, value: Placement) -> None:
        self._value = value
        self._loaded_at = self._monotonic()

    def without(self, sender_ids: set[str]) -> Placement:
        """The current placement minus some senders (just paused), kept as current."""
        current = self._value
        kept = [
            (sid, w)
            for sid, w in zip(current.sender_ids, _weights(current.cumulative_weights), strict=True)
            if sid not in sender_ids
        ]
        updated = Placement(
            sender_ids=tuple(s for s, _ in kept),
            cumulative_weights=tuple(accumulate(w for _, w in kept)),
            unsendable=tuple(sorted({*current.unsendable, *sender_ids})),
        )
        self._value = updated
        return updated

    async def current(self, conn: asyncpg.Connection, now: datetime) -> Placement:
        if self._monotonic() - self._loaded_at > self.max_age:
            rows = await list_senders(conn)
            today = now.astimezone(zone(self._settings.time_zone)).date()
            self.replace(placement(rows, now, today, self._settings.warmup_daily_caps))
        return self._value


def _weights(cumulative: tuple[int, ...]) -> list[int]:
    return [b - a for a, b in zip((0, *cumulative), cumulative, strict=False)]
