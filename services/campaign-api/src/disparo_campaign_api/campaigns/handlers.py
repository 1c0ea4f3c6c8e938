"""Campaign commands as plain handlers: create, edit, schedule, start, pause, resume, cancel.

Each command locks the campaign row (``SELECT … FOR UPDATE``), asks the pure lifecycle
(``rules.decide``) what may happen, writes the new state and stages the matching
``Campaign*`` event in the outbox, all in the caller's transaction. Start also snapshots the
audience into ``campaign_recipients`` in that same transaction, so two starts at once — two
people, or a person and the scheduler on another replica — serialise on the row lock: the second
finds the campaign running and changes nothing.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from disparo_campaign_api.campaigns.cloud_templates import CloudTemplateIn, template_sql
from disparo_campaign_api.campaigns.message_ids import recipient_seq
from disparo_campaign_api.campaigns.rules import (
    DEFAULT_MAX_PER_DAY,
    DEFAULT_PRIORITY,
    Command,
    DailySpread,
    IllegalTransition,
    Kind,
    SendWindow,
    State,
    decide,
)
from disparo_campaign_api.campaigns.templates import (
    TemplateError,
    load_template,
    parse_template,
    render_sql,
)
from disparo_campaign_api.pagination import decode_cursor, paginate
from disparo_campaign_api.segments.filters import (
    Filter,
    FilterError,
    Parameters,
    filter_to_json,
    parse_filter,
)
from disparo_campaign_api.segments.handlers import (
    audience_sql,
    checked_filter,
    not_found,
    parse_segment_id,
    segment_filter,
)
from disparo_shared.events import (
    CampaignCancelled,
    CampaignCompleted,
    CampaignCreated,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignSendWindow,
    CampaignStarted,
)
from disparo_shared.followup_plans import (
    MIN_PLAN_DELAY,
    FollowupPlan,
    PlanError,
    parse_followup_plan,
)
from disparo_shared.outbox import add_events
from disparo_shared.privacy import mask_phone
from disparo_shared.problems import Problem, invalid
from disparo_shared.queries import load_queries
from disparo_shared.text_input import SafeLine, SafeText

SQL = load_queries(Path(__file__).parent / "queries.sql")
# NOTIFY channel that wakes the fan-out worker when a campaign starts or resumes.
FANOUT_CHANNEL = "disparo_campaign_fanout"
ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
PREVIEW_SIZE = 5


class SendWindowIn(BaseModel):
    """Hours (local to the campaign zone, America/Sao_Paulo by default) and ISO weekdays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_hour: int = Field(0, ge=0, le=23, description="First hour messages may fall due, e.g. 9.")
    end_hour: int = Field(24, ge=1, le=24, description="Hour the window closes, e.g. 18.")
    days: list[int] = Field(
        default_factory=lambda: list(ALL_DAYS),
        min_length=1,
        max_length=7,
        description="ISO weekdays, 1 = Monday … 7 = Sunday.",
    )

    @model_validator(mode="after")
    def _check(self) -> "SendWindowIn":
        if self.start_hour >= self.end_hour:
            raise ValueError("start_hour must be before end_hour")
        if any(d not in ALL_DAYS for d in self.days) or len(set(self.days)) != len(self.days):
            raise ValueError("days are distinct ISO weekdays 1–7")
        return self


class CampaignFields(BaseModel):
    """What a campaign is made of; every field optional so PATCH can reuse it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: SafeLine | None = Field(None, min_length=1, max_length=200)
    kind: Kind | None = Field(
        None,
        description="campaign, promotional (sent like campaign), first_contact, or followup"
        " (its messages are follow-ups: a reply cancels those still waiting).",
    )
    template: SafeText | None = Field(
        None,
        description="Text with {nome} (the name as stored), {primeiro_nome} (its first word),"
        " {especialidade}, {regiao}, {attr.x}; {{ and }} for literal braces. A syntax fault is a"
        " 422 naming its position.",
    )
    segment_id: str | None = Field(None, description="A saved segment's uuid or predefined:<key>.")
    filter: dict[str, Any] | None = Field(
        None, description="An inline filter instead of a segment."
    )
    priority: int | None = Field(None, ge=1, le=10, description="1–10, 10 most urgent.")
    max_per_day: int | None = Field(
        None, ge=1, description="At most this many messages due a day; null: no cap."
    )
    send_window: SendWindowIn | None = None
    not_before: AwareDatetime | None = Field(
        None, description="No message of it earlier than this."
    )
    followups: dict[str, Any] | str | None = Field(
        None,
        description='The campaign\'s follow-up plan: {"delay": "3d", "max": 2, "texts": [...]}'
        " (delay 30m to 30d, max 1 to 5, one text or list of variants per follow-up with"
        " {nome} and {primeiro_nome}; texts left out: the spec's, in Portuguese), or"
        ' {"rule_set": "<name>"} to follow a rule set of the followup service, or "none".'
        " Left out or null: the default rules (padrao). A fault is a 422 naming the field.",
        examples=[{"delay": "2d", "max": 2}],
    )
    cloud_template: CloudTemplateIn | None = Field(
        None,
        description="The approved WhatsApp Cloud API template for doctors outside their 24 h"
        " window on a Cloud number (the text goes to the others): name, language and each body"
        " parameter's contact field or text. Checked against the dispatcher's registry (422"
        " naming the field at fault; 503 when the registry cannot be asked). null on edit drops"
        " it.",
    )


class CreateCampaign(CampaignFields):
    """The body of ``POST /v1/campaigns``: the spec's defaults unless the request says otherwise."""

    name: SafeLine = Field(min_length=1, max_length=200)
    kind: Kind = Kind.CAMPAIGN
    template: SafeText
    priority: int = Field(
        DEFAULT_PRIORITY, ge=1, le=10, description="1–10, 10 most urgent; default 3 (the spec's)."
    )
    max_per_day: int | None = Field(
        DEFAULT_MAX_PER_DAY,
        ge=1,
        description="At most this many messages due a day; default 50 (the spec's max_por_dia);"
        " null explicitly for no cap.",
    )
    scheduled_for: AwareDatetime | None = Field(
        None,
        description="Schedule at creation (the spec's agendar_para): the campaign is created"
        " scheduled, as POST /{id}/schedule would; absent: a draft.",
    )


class ScheduleCampaign(BaseModel):
    """The body of ``POST /v1/campaigns/{id}/schedule``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime = Field(description="When the scheduler starts it, with offset.")


def campaign_json(row: asyncpg.Record) -> dict[str, Any]:
    def iso(name: str) -> str | None:
        return row[name].isoformat() if row[name] else None

    return {
        "id": str(row["id"]),
        "name": row["name"],
        "kind": row["kind"],
        "template": row["template"],
        "segment_id": row["segment_ref"],
        "filter": row["filter"],
        "priority": row["priority"],
        "max_per_day": row["max_per_day"],
        "send_window": {
            "start_hour": row["window_start_hour"],
            "end_hour": row["window_end_hour"],
            "days": list(row["window_days"]),
        },
        "not_before": iso("not_before"),
        "followups": _plan_out(row["followups"]),
        "state": row["state"],
        "scheduled_for": iso("scheduled_for"),
        "audience_size": row["audience_size"],
        "requested": row["fanout_cursor"],
        "first_due_at": iso("first_due_at"),
        "started_at": iso("started_at"),
        "paused_at": iso("paused_at"),
        "completed_at": iso("completed_at"),
        "cancelled_at": iso("cancelled_at"),
        "created_at": iso("created_at"),
        "updated_at": iso("updated_at"),
        "cloud_template": row["cloud_template"],
        "without_template": row["without_template"],
    }


def _plan_out(stored: dict[str, Any] | None) -> str | dict[str, Any] | None:
    return None if stored is None else FollowupPlan.model_validate(stored).as_request()


def _checked_plan(value: object, min_delay: timedelta) -> dict[str, Any] | None:
    """The plan as stored (``FollowupPlan`` JSON), or None for the default rules; a 422 naming
    the field (``followups.texts[1][0]``) otherwise."""
    try:
        plan = parse_followup_plan(value, min_delay)
    except PlanError as exc:
        raise invalid(f"followups.{exc.field}" if exc.field else "followups", exc.reason) from None
    return None if plan is None else plan.model_dump(mode="json", exclude_none=True)


def conflict(exc: IllegalTransition) -> Problem:
    return Problem(409, "Illegal campaign transition", str(exc))


def _checked_template(source: str) -> str:
    try:
        parse_template(source)
    except TemplateError as exc:
        raise invalid("template", exc.reason) from None
    return source


async def _checked_target(
    conn: asyncpg.Connection, segment_id: str | None, raw_filter: dict[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    """(segment_ref, canonical filter): exactly one set; a saved segment must exist."""
    if (segment_id is None) == (raw_filter is None):
        raise invalid("segment_id", "give exactly one of segment_id and filter")
    if segment_id is not None:
        ref = parse_segment_id(segment_id)
        await segment_filter(conn, segment_id)  # 404 if a saved segment does not exist
        return str(ref), None
    return None, filter_to_json(checked_filter(raw_filter))


async def _locked(conn: asyncpg.Connection, campaign_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(SQL.lock_campaign, campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    return row


def _decide(command: Command, row: asyncpg.Record):
    try:
        return decide(command, State(row["state"]))
    except IllegalTransition as exc:
        raise conflict(exc) from None


# ---------------------------------------------------------------------------------------------
# Commands


async def create_campaign(
    conn: asyncpg.Connection,
    data: CreateCampaign,
    now: datetime,
    followup_min_delay: timedelta = MIN_PLAN_DELAY,
) -> dict[str, Any]:
    """A draft campaign; template, follow-up plan and audience are checked now, the audience
    evaluated at start."""
    template = _checked_template(data.template)
    plan = _checked_plan(data.followups, followup_min_delay)
    segment_ref, stored_filter = await _checked_target(conn, data.segment_id, data.filter)
    window = data.send_window or SendWindowIn()
    row = await conn.fetchrow(
        SQL.insert_campaign,
        data.name,
        data.kind,
        template,
        segment_ref,
        stored_filter,
        data.priority,
        data.max_per_day,
        window.start_hour,
        window.end_hour,
        window.days,
        data.not_before,
        now,
    )
    if plan is not None:
        row = await conn.fetchrow(SQL.set_followup_plan, row["id"], plan)
    if data.cloud_template is not None:
        row = await _set_cloud_template(conn, row["id"], data.cloud_template, now)
    await add_events(
        conn, [CampaignCreated(campaign_id=row["id"], name=row["name"], occurred_at=now)]
    )
    if data.scheduled_for is not None:
        return await _schedule(conn, row, data.scheduled_for, now, field="scheduled_for")
    return campaign_json(row)


async def get_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow(SQL.get_campaign, campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    return campaign_json(row)


async def list_campaigns(
    conn: asyncpg.Connection, *, state: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """One page in creation order, optionally of one state, resuming after ``cursor``."""
    if state is not None and state not in {s.value for s in State}:
        raise invalid("state", f"one of {', '.join(s.value for s in State)}")
    created_at, last_id = decode_cursor(cursor, (datetime.fromisoformat, UUID)) or (None, None)
    rows = await conn.fetch(SQL.list_campaigns, created_at, last_id, state, limit + 1)
    page = paginate(rows, limit, lambda r: (r["created_at"], r["id"]))
    return {"items": [campaign_json(r) for r in page.items], "next_cursor": page.next_cursor}


async def update_campaign(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    changes: CampaignFields,
    now: datetime,
    followup_min_delay: timedelta = MIN_PLAN_DELAY,
) -> dict[str, Any]:
    """Edit a draft (409 in any other state); fields not sent keep their value."""
    row = await _locked(conn, campaign_id)
    _decide(Command.EDIT, row)
    given = changes.model_fields_set
    if "followups" in given:
        plan = _checked_plan(changes.followups, followup_min_delay)
        row = await conn.fetchrow(SQL.set_followup_plan, campaign_id, plan)
    segment_ref, stored_filter = row["segment_ref"], row["filter"]
    if "segment_id" in given or "filter" in given:
        segment_ref, stored_filter = await _checked_target(conn, changes.segment_id, changes.filter)
    window = (
        changes.send_window
        if "send_window" in given and changes.send_window is not None
        else SendWindowIn(
            start_hour=row["window_start_hour"],
            end_hour=row["window_end_hour"],
            days=list(row["window_days"]),
        )
    )
    for field in ("name", "kind", "template", "priority"):
        if field in given and getattr(changes, field) is None:
            raise invalid(field, "may be changed but not removed")
    updated = await conn.fetchrow(
        SQL.update_draft,
        campaign_id,
        changes.name if "name" in given else row["name"],
        changes.kind if "kind" in given else row["kind"],
        _checked_template(changes.template) if "template" in given else row["template"],
        segment_ref,
        stored_filter,
        changes.priority if "priority" in given else row["priority"],
        changes.max_per_day if "max_per_day" in given else row["max_per_day"],
        window.start_hour,
        window.end_hour,
        window.days,
        changes.not_before if "not_before" in given else row["not_before"],
        now,
    )
    if "cloud_template" in given:
        updated = await _set_cloud_template(conn, campaign_id, changes.cloud_template, now)
    return campaign_json(updated)


async def _set_cloud_template(
    conn: asyncpg.Connection, campaign_id: UUID, template: CloudTemplateIn | None, now: datetime
) -> asyncpg.Record:
    """Store the Cloud template the route checked against the registry (None drops it)."""
    stored = template.model_dump(mode="json", exclude_none=True) if template else None
    return await conn.fetchrow(SQL.set_cloud_template, campaign_id, stored, now)


async def schedule_campaign(
    conn: asyncpg.Connection, campaign_id: UUID, at: datetime, now: datetime
) -> dict[str, Any]:
    """Draft (or already scheduled) → scheduled for ``at``; the scheduler starts it then."""
    return await _schedule(conn, await _locked(conn, campaign_id), at, now, field="at")


async def _schedule(
    conn: asyncpg.Connection, row: asyncpg.Record, at: datetime, now: datetime, *, field: str
) -> dict[str, Any]:
    """Schedule the campaign whose row the caller holds (locked, or just inserted)."""
    if at < now:
        raise invalid(field, "must not be in the past")
    _decide(Command.SCHEDULE, row)
    updated = await conn.fetchrow(SQL.set_scheduled, row["id"], at, now)
    await add_events(
        conn, [CampaignScheduled(campaign_id=row["id"], scheduled_for=at, occurred_at=now)]
    )
    return campaign_json(updated)


async def start_campaign(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime, zone_name: str = "America/Sao_Paulo"
) -> dict[str, Any]:
    """Start now: idempotent — a running (or paused, completed) campaign is returned unchanged."""
    row = await _locked(conn, campaign_id)
    return campaign_json(await start_locked(conn, row, now, zone_name))


async def start_locked(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    now: datetime,
    zone_name: str = "America/Sao_Paulo",
) -> asyncpg.Record:
    """Start a campaign whose row the caller holds locked (manual start or the scheduler).

    One ``INSERT … SELECT`` writes the whole audience to ``campaign_recipients``; the fan-out
    worker turns it into messages afterwards, in chunks.
    """
    move = _decide(Command.START, row)
    if not move.changed:
        return row
    audience = await _audience_at_start(conn, row)
    sql, params = audience_sql(SQL.snapshot_audience, audience, now, fixed_params=1)
    status = await conn.execute(sql, row["id"], *params)
    audience_size = int(status.split()[-1])
    window = _window(row, zone_name)
    not_before = row["not_before"]
    first_due = window.next_opening(max(now, not_before) if not_before else now)
    started = await conn.fetchrow(
        SQL.set_started, row["id"], now, audience_size, filter_to_json(audience), first_due
    )
    await conn.execute(SQL.notify_fanout, FANOUT_CHANNEL, str(row["id"]))
    await add_events(
        conn,
        [
            CampaignStarted(
                campaign_id=row["id"],
                audience_size=audience_size,
                max_per_day=row["max_per_day"],
                send_window=CampaignSendWindow(
                    start_hour=window.start_hour,
                    end_hour=window.end_hour,
                    weekdays=list(window.days),
                    time_zone=zone_name,
                ),
                followups=row["followups"],
                occurred_at=now,
            )
        ],
    )
    return started


async def _audience_at_start(conn: asyncpg.Connection, row: asyncpg.Record) -> Filter:
    """The filter to evaluate now; a segment deleted or a filter no longer valid is a 409."""
    try:
        if row["segment_ref"] is not None:
            return await segment_filter(conn, row["segment_ref"])
        return parse_filter(row["filter"])
    except FilterError as exc:
        raise Problem(
            409, "Campaign audience invalid", f"stored filter {exc.path}: {exc.reason}"
        ) from None
    except Problem as exc:
        if exc.status_code != 404:
            raise
        raise Problem(409, "Campaign segment missing", str(exc.detail)) from None


def _window(row: asyncpg.Record, zone_name: str) -> SendWindow:
    return SendWindow(
        start_hour=row["window_start_hour"],
        end_hour=row["window_end_hour"],
        days=tuple(row["window_days"]),
        zone=ZoneInfo(zone_name),
    )


def daily_spread(row: asyncpg.Record, zone_name: str) -> DailySpread:
    """The ``not_before`` rule of a started campaign (see ``campaigns.DailySpread``)."""
    return DailySpread(row["first_due_at"], _window(row, zone_name), row["max_per_day"])


async def pause_campaign(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> dict[str, Any]:
    row = await _locked(conn, campaign_id)
    if not _decide(Command.PAUSE, row).changed:
        return campaign_json(row)
    updated = await conn.fetchrow(SQL.set_paused, campaign_id, now)
    await add_events(conn, [CampaignPaused(campaign_id=campaign_id, occurred_at=now)])
    return campaign_json(updated)


async def resume_campaign(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> dict[str, Any]:
    row = await _locked(conn, campaign_id)
    if not _decide(Command.RESUME, row).changed:
        return campaign_json(row)
    updated = await conn.fetchrow(SQL.set_resumed, campaign_id, now)
    await conn.execute(SQL.notify_fanout, FANOUT_CHANNEL, str(campaign_id))
    await add_events(conn, [CampaignResumed(campaign_id=campaign_id, occurred_at=now)])
    return campaign_json(updated)


async def cancel_campaign(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> dict[str, Any]:
    row = await _locked(conn, campaign_id)
    if not _decide(Command.CANCEL, row).changed:
        return campaign_json(row)
    updated = await conn.fetchrow(SQL.set_cancelled, campaign_id, now)
    await add_events(conn, [CampaignCancelled(campaign_id=campaign_id, occurred_at=now)])
    return campaign_json(updated)


async def preview_campaign(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    now: datetime,
    fallbacks: dict[str, str],
    limit: int = PREVIEW_SIZE,
) -> dict[str, Any]:
    """The message as a few recipients get it, rendered by the same SQL as the fan-out (the
    audience evaluated now, or the snapshot once started)."""
    row = await conn.fetchrow(SQL.get_campaign, campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    template = load_template(row["template"])

    def rendering(query: str, params: Parameters) -> str:
        body = render_sql(template, params.add, fallbacks)
        cloud = template_sql(row["cloud_template"], params.add, fallbacks, with_object=False)
        return query.replace("{template_values}", cloud.values).replace("{body}", body)

    if row["audience_size"] is not None:
        params = Parameters(first_index=3)
        query = rendering(SQL.render_for_recipients, params)
        rendered = await conn.fetch(query, campaign_id, limit, *params.values)
    else:
        audience = await _audience_at_start(conn, row)
        query, audience_params = audience_sql(
            SQL.render_for_audience, audience, now, fixed_params=1
        )
        params = Parameters(first_index=2 + len(audience_params))
        query = rendering(query, params)
        rendered = await conn.fetch(query, limit, *audience_params, *params.values)
    return {
        "campaign_id": str(campaign_id),
        "template": row["template"],
        "placeholders": list(template.placeholders),
        "samples": [
            {
                "contact_id": str(r["id"]),
                "phone": mask_phone(r["phone"]),
                "body": r["body"],
                # None: no Cloud template; a None inside: a field this doctor lacks (no fallback)
                "cloud_template_parameters": r["template_values"],
            }
            for r in rendered
        ],
    }


# ---------------------------------------------------------------------------------------------
# Completion


async def record_outcome(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    message_id: UUID,
    status: Literal["sent", "failed"],
    now: datetime,
) -> bool:
    """Mark a campaign message final; True when this changed anything (once per message)."""
    seq = recipient_seq(campaign_id, message_id)
    if seq is None:
        return False  # not a message of this campaign's fan-out
    return await conn.fetchval(SQL.record_outcome, campaign_id, seq, status, now) is not None


async def record_outcomes(
    conn: asyncpg.Connection,
    messages: Iterable[tuple[UUID, UUID]],
    status: Literal["sent", "failed"],
    now: datetime,
) -> list[UUID]:
    """Mark many campaign messages, given as (campaign id, message id), final in one
    statement; the campaigns where this changed anything, in id order (none on redelivery)."""
    campaign_ids, seqs = [], []
    for campaign_id, message_id in messages:
        seq = recipient_seq(campaign_id, message_id)
        if seq is not None:  # else not a message of this campaign's fan-out
            campaign_ids.append(campaign_id)
            seqs.append(seq)
    if not seqs:
        return []
    rows = await conn.fetch(SQL.record_outcomes, campaign_ids, seqs, status, now)
    return [row["campaign_id"] for row in rows]


async def complete_if_finished(conn: asyncpg.Connection, campaign_id: UUID, now: datetime) -> bool:
    """Running → completed once fan-out is done and no recipient is pending; publishes
    ``CampaignCompleted`` exactly once (the conditional UPDATE admits one winner)."""
    if await conn.fetchval(SQL.complete_if_finished, campaign_id, now) is None:
        return False
    await add_events(conn, [CampaignCompleted(campaign_id=campaign_id, occurred_at=now)])
    return True


async def complete_finished_campaigns(
    pool: asyncpg.Pool, now: datetime, limit: int = 100
) -> list[UUID]:
    """The sweep behind the per-event check: two last outcomes committed at once can each miss
    the other, so running campaigns with fan-out done are re-checked periodically."""
    completed = []
    for row in await pool.fetch(SQL.campaigns_awaiting_completion, limit):
        async with pool.acquire() as conn, conn.transaction():
            if await complete_if_finished(conn, row["id"], now):
                completed.append(row["id"])
    return completed
