"""The dispatcher's HTTP API: senders, dead letters, campaign limits and queue stats.

Routes parse and validate, then call ``senders`` / ``handlers``; errors are problem details.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from litestar import Request, Router, get, patch, post, put
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
)
from pydantic import BaseModel, ConfigDict, Field

from disparo_dispatcher import handlers, in_doubt, privacy, queue, senders, tiers
from disparo_dispatcher.clock import local_today
from disparo_dispatcher.operator_gauges import QueueReading
from disparo_dispatcher.providers.registry import PROVIDERS
from disparo_dispatcher.quiet_hours import local_day_start
from disparo_dispatcher.rate_limits import daily_cap
from disparo_dispatcher.sender_policy import SenderPolicy, shown_credential
from disparo_dispatcher.senders import STATUSES, Sender
from disparo_dispatcher.settings import MAX_DAILY_LIMIT, SenderSeed
from disparo_shared.audit import audit_contact
from disparo_shared.contact_export import EXPORT_PATH, EXPORT_SCOPE, ContactExportRequest
from disparo_shared.problems import Problem, invalid, problem_answers
from disparo_shared.runtime import Runtime


class SenderOut(BaseModel):
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
    waba_id: str | None = None
    portfolio: str | None = None
    display_phone_number: str | None = None
    quality: str = "GREEN"
    tier: str | None = Field(None, description="The portfolio's messaging tier (Cloud)")
    tier_limit: int | None = Field(
        None, description="Unique business-initiated recipients per rolling 24 h; null: none"
    )
    portfolio_recipients_24h: int | None = Field(
        None, description="Distinct doctors the portfolio initiated with in the last 24 h"
    )
    recipients_24h: int | None = Field(
        None, description="Of those, the ones this number reached last (its share)"
    )
    sent_today: int | None = Field(
        None, description="Messages this number sent since local midnight (the 'today' zone)"
    )
    cap_today: int | None = Field(
        None, description="Messages it may send today: its daily limit or warm-up step; null: none"
    )

    @classmethod
    def of(
        cls,
        sender: Sender,
        health: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
    ) -> "SenderOut":
        """The sender as the API shows it: a literal credential is never shown; Cloud numbers
        carry their portfolio's tier and its use (``health``); the list adds today's ``usage``."""
        shown = {f: getattr(sender, f) for f in cls.model_fields if hasattr(sender, f)}
        shown["credential_ref"] = shown_credential(sender.credential_ref)
        return cls(**shown, **(health or {}), **(usage or {}))


class SenderChange(BaseModel):
    """Fields to change; those left out keep their value. ``status`` active resumes a sender."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    address: str | None = Field(None, min_length=1)
    base_url: str | None = Field(None, min_length=1)
    credential_ref: str | None = Field(None, min_length=1)
    rate_per_second: int | None = Field(None, ge=1, le=1000)
    daily_limit: int | None = Field(None, ge=1, le=MAX_DAILY_LIMIT)
    warmup_started_on: date | None = None
    status: str | None = None
    paused_until: datetime | None = None
    pause_reason: str | None = Field(None, max_length=500)


class Requeue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extra_attempts: int = Field(3, ge=1, le=50, description="Tries the message gets again")


class InDoubtRequeue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: UUID | None = Field(
        None, description="Only this campaign's held sends; all of them when left out"
    )
    message_ids: list[UUID] | None = Field(
        None, max_length=10000, description="Only these held sends (those checked as not sent)"
    )


class InDoubtSent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_message_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The provider's id of the send, when the person found it in its panel",
    )


class MessageLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_ids: list[UUID] = Field(
        min_length=1, max_length=100, description="At most 100 ids (a page of a timeline)."
    )


class CampaignLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_per_day: int | None = Field(None, ge=1, description="Sends per day; null removes the cap")


def _check_provider(name: str) -> None:
    if name not in PROVIDERS:
        raise invalid(
            "provider", f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}"
        )


def _check_policy(policy: SenderPolicy, base_url: str, credential_ref: str) -> None:
    found = policy.problems(base_url=base_url, credential_ref=credential_ref, from_settings=False)
    if found:
        raise Problem(
            HTTP_422_UNPROCESSABLE_ENTITY,
            "Invalid request",
            "; ".join(f"{field}: {reason}" for field, reason in found),
            errors=[{"field": field, "reason": reason} for field, reason in found],
        )


def admin_router(
    runtime: Runtime,
    clock: Callable[[], datetime],
    policy: SenderPolicy,
    default_tier: str = "TIER_250",
    time_zone: str = "America/Sao_Paulo",
    warmup_daily_caps: list[int] | None = None,
    queue_reading: Callable[[], QueueReading | None] | None = None,
) -> Router:
    @get("/senders")
    async def list_all() -> list[SenderOut]:
        """Every sender with its status, which replica holds it, and today's use against its cap
        (days begin at midnight in ``time_zone``, as the send loop counts them)."""
        now = clock()
        today = local_today(now, time_zone)
        async with runtime.pool.acquire() as conn:
            health = await tiers.sender_health(conn, now, default_tier)
            found = await senders.list_senders(conn)
            sent = {
                row["sender_id"]: row["sent"]
                for row in await conn.fetch(
                    queue.SQL.count_sent_since,
                    [s.sender_id for s in found],
                    local_day_start(now, time_zone),
                )
            }
        return [
            SenderOut.of(
                s,
                health.get(s.sender_id),
                {
                    "sent_today": sent.get(s.sender_id, 0),
                    "cap_today": daily_cap(
                        s.daily_limit, s.warmup_started_on, today, warmup_daily_caps or []
                    ),
                },
            )
            for s in found
        ]

    @post("/senders", responses=problem_answers({409: "A sender with that id exists."}))
    async def create(data: SenderSeed) -> SenderOut:
        """Add a sender; 409 when the id is taken. Its credential must be a declared variable
        and its host an allowed provider host (``sender_policy``)."""
        _check_provider(data.provider)
        _check_policy(policy, data.base_url, data.credential_ref)
        async with runtime.pool.acquire() as conn:
            created = await senders.insert_sender(conn, data)
        if created is None:
            raise Problem(
                HTTP_409_CONFLICT, "Sender exists", f"sender {data.sender_id} already exists"
            )
        return SenderOut.of(created)

    @get("/senders/{sender_id:str}")
    async def show(sender_id: str) -> SenderOut:
        async with runtime.pool.acquire() as conn:
            found = await senders.get_sender(conn, sender_id)
        if found is None:
            raise Problem(
                HTTP_404_NOT_FOUND, "No such sender", f"sender {sender_id} does not exist"
            )
        return SenderOut.of(found)

    @patch("/senders/{sender_id:str}")
    async def change(sender_id: str, data: SenderChange) -> SenderOut:
        """Change a sender's configuration or status (pause, ban, resume)."""
        given: dict[str, Any] = data.model_dump(exclude_unset=True)
        if "provider" in given:
            _check_provider(given["provider"])
        if "status" in given and given["status"] not in STATUSES:
            raise invalid("status", f"must be one of {', '.join(STATUSES)}")
        for required in (
            "provider",
            "address",
            "base_url",
            "credential_ref",
            "rate_per_second",
            "status",
        ):
            if required in given and given[required] is None:
                raise invalid(required, "must not be null")
        async with runtime.pool.acquire() as conn, conn.transaction():
            current = await senders.get_sender(conn, sender_id)
            if current is None:
                raise Problem(
                    HTTP_404_NOT_FOUND, "No such sender", f"sender {sender_id} does not exist"
                )
            merged = {**current.__dict__, **given}
            if "base_url" in given or "credential_ref" in given:
                _check_policy(policy, merged["base_url"], merged["credential_ref"])
            if given.get("status") == senders.ACTIVE:
                merged.update(paused_until=None, pause_reason=None)
            saved = await senders.save_sender(conn, Sender(**merged))
        return SenderOut.of(saved)

    @get("/queue/stats")
    async def stats() -> dict[str, Any]:
        """Pending and dead messages by state and priority, and per priority the age in seconds
        of the oldest message that could go and has not (a message waiting for a limit has its
        due time moved, so it does not age; one waiting for a number to send it does); no
        entry when none waits. Served from the gauges' last periodic read (``read_at``) when
        there is one: polling this counts nothing."""
        reading = queue_reading() if queue_reading else None
        if reading is None:
            now = clock()
            async with runtime.pool.acquire() as conn:
                reading = QueueReading.from_rows(now, await queue.queue_reading(conn, now))
        by_state: dict[str, dict[str, int]] = {}
        for row in reading.depth:
            by_state.setdefault(row["state"], {})[str(row["priority"])] = row["messages"]
        totals = {state: sum(counts.values()) for state, counts in by_state.items()}
        waiting = {str(row["priority"]): max(0.0, row["age_seconds"]) for row in reading.oldest_due}
        return {
            "totals": totals,
            "by_priority": by_state,
            "oldest_waiting_seconds": waiting,
            "oldest_waiting_seconds_max": max(waiting.values(), default=None),
            "read_at": reading.read_at.isoformat(),
        }

    @get("/messages/{message_id:uuid}")
    async def message(message_id: UUID) -> dict[str, Any]:
        """One message's state, attempts and last error (the phone is not shown)."""
        async with runtime.pool.acquire() as conn:
            row = await conn.fetchrow(queue.SQL.get_message, message_id)
        if row is None:
            raise Problem(HTTP_404_NOT_FOUND, "No such message", f"message {message_id} is unknown")
        return {k: v for k, v in dict(row).items() if k != "phone"}

    @post(EXPORT_PATH.removeprefix("/v1"), status_code=HTTP_200_OK, opt={"scope": EXPORT_SCOPE})
    async def export_contact(request: Request, data: ContactExportRequest) -> dict[str, Any]:
        """What the queue holds about a doctor (LGPD access request): messages with their
        texts, the phone's sticky sender, pacing and consent, its 24 h windows. The phone is in
        the body, so it never reaches an access log; the audit trail names the contact id."""
        audit_contact(request, data.contact_id)
        return await privacy.export_contact(runtime.pool, data.phone, data.contact_id)

    @post("/messages/lookup", status_code=HTTP_200_OK)
    async def lookup(data: MessageLookup) -> dict[str, Any]:
        """Several messages' text and state at once (the phone is not shown); unknown ids are
        left out. A doctor's timeline shows what we sent with one call, not one per message."""
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(queue.SQL.messages_by_ids, data.message_ids)
        return {"items": [{**dict(r), "message_id": str(r["message_id"])} for r in rows]}

    async def why_unchanged(message_id: UUID, wrong_state: str) -> Problem:
        """The answer when a state change found no row to change: 404 if the message is
        unknown, else 409 saying the state it is in."""
        async with runtime.pool.acquire() as conn:
            exists = await conn.fetchrow(queue.SQL.get_message, message_id)
        if exists is None:
            return Problem(
                HTTP_404_NOT_FOUND, "No such message", f"message {message_id} is unknown"
            )
        return Problem(HTTP_409_CONFLICT, wrong_state, f"message {message_id} is {exists['state']}")

    @post(
        "/dead-letters/{message_id:uuid}/requeue",
        status_code=HTTP_200_OK,
        responses=problem_answers({409: "The message is not dead."}),
    )
    async def requeue_one(message_id: UUID, data: Requeue | None = None) -> dict[str, Any]:
        """Put one dead message back in line; 409 if it is not dead."""
        extra = (data or Requeue()).extra_attempts
        row = await handlers.requeue_dead_message(runtime.pool, message_id, clock(), extra)
        if row is None:
            raise await why_unchanged(message_id, "Not dead")
        return {"message_id": str(message_id), "state": queue.QUEUED}

    @post("/campaigns/{campaign_id:uuid}/requeue-failed", status_code=HTTP_200_OK)
    async def requeue_campaign(campaign_id: UUID, data: Requeue | None = None) -> dict[str, Any]:
        """Resend to the failed only: every dead message of the campaign back in line."""
        extra = (data or Requeue()).extra_attempts
        count = await handlers.requeue_dead_for_campaign(runtime.pool, campaign_id, clock(), extra)
        return {"campaign_id": str(campaign_id), "requeued": count}

    @get("/in-doubt")
    async def held_in_doubt() -> dict[str, Any]:
        """Sends held in doubt for a person (nothing could tell whether the provider took
        them; their kind is sent at most once), by campaign."""
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(in_doubt.SQL.count_held_in_doubt)
        by_campaign = {str(row["campaign_id"]): row["held"] for row in rows}
        return {"held": sum(by_campaign.values()), "by_campaign": by_campaign}

    @post("/in-doubt/requeue", status_code=HTTP_200_OK)
    async def requeue_in_doubt(data: InDoubtRequeue | None = None) -> dict[str, Any]:
        """Send again the sends held in doubt (one campaign's, or all): one call after a person
        decided they did not go out."""
        choice = data or InDoubtRequeue()
        count = await handlers.requeue_held_in_doubt(
            runtime.pool, choice.campaign_id, clock(), choice.message_ids
        )
        return {"requeued": count}

    @post(
        "/in-doubt/{message_id:uuid}/sent",
        status_code=HTTP_200_OK,
        responses=problem_answers({409: "The message is not in doubt."}),
    )
    async def settle_sent(message_id: UUID, data: InDoubtSent | None = None) -> dict[str, Any]:
        """A person checked that a send in doubt did go out: it becomes sent (told as
        ``message.sent``, so the report counts it) and the verdict is kept; 409 if it is not
        in doubt."""
        given = (data or InDoubtSent()).provider_message_id
        row = await handlers.settle_in_doubt_as_sent(runtime.pool, message_id, clock(), given)
        if row is None:
            raise await why_unchanged(message_id, "Not in doubt")
        return {"message_id": str(message_id), "state": queue.SENT}

    @put("/campaigns/{campaign_id:uuid}/limits")
    async def campaign_limits(campaign_id: UUID, data: CampaignLimits) -> dict[str, Any]:
        """Set the campaign's ``max_per_day`` (the spec's ``max_por_dia``)."""
        row = await handlers.set_campaign_max_per_day(runtime.pool, campaign_id, data.max_per_day)
        return {**dict(row), "campaign_id": str(row["campaign_id"])}

    return Router(
        path="/v1",
        opt={"scope": "admin"},  # senders, dead letters, limits: administration only
        route_handlers=[
            list_all,
            create,
            show,
            change,
            stats,
            message,
            lookup,
            export_contact,
            requeue_one,
            requeue_campaign,
            held_in_doubt,
            requeue_in_doubt,
            settle_sent,
            campaign_limits,
        ],
    )
