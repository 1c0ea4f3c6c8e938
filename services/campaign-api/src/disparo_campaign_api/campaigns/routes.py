"""HTTP edge of campaigns: create, read, list, edit (draft), schedule, start, pause, resume,
cancel, preview. Every command answers the campaign; an illegal move is a 409 problem."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import AwareDatetime, BaseModel, Field

from disparo_campaign_api.campaign_settings import CampaignConfig, campaign_settings
from disparo_campaign_api.campaigns.cloud_templates import CloudTemplateIn
from disparo_campaign_api.campaigns.handlers import (
    CampaignFields,
    CreateCampaign,
    ScheduleCampaign,
    cancel_campaign,
    create_campaign,
    get_campaign,
    list_campaigns,
    pause_campaign,
    preview_campaign,
    resume_campaign,
    schedule_campaign,
    start_campaign,
    update_campaign,
)
from disparo_campaign_api.campaigns.template_registry import check_cloud_template
from disparo_campaign_api.dependencies import Clock, Pool, Registry, Settings
from disparo_campaign_api.idempotency import (
    IN_PROGRESS,
    IdempotencyKeyHeader,
    check_key,
    run_once,
)
from disparo_campaign_api.pagination import check_limit
from disparo_shared.problems import invalid, problem_answers


class SendWindowOut(BaseModel):
    start_hour: int
    end_hour: int
    days: list[int]


class Campaign(BaseModel):
    id: UUID
    name: str
    kind: str
    template: str
    segment_id: str | None
    filter: dict[str, Any] | None
    priority: int
    max_per_day: int | None
    send_window: SendWindowOut
    not_before: AwareDatetime | None
    followups: str | dict[str, Any] | None = Field(
        description='The follow-up plan as written ({"delay", "max", "texts"}, {"rule_set"} or'
        ' "none"), texts filled in with the defaults when left out; null: the default rules.'
    )
    state: str = Field(description="draft, scheduled, running, paused, completed or cancelled.")
    scheduled_for: AwareDatetime | None
    audience_size: int | None = Field(description="Recipients snapshotted at start.")
    requested: int = Field(description="Recipients whose message went to the dispatcher so far.")
    first_due_at: AwareDatetime | None
    started_at: AwareDatetime | None
    paused_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    cancelled_at: AwareDatetime | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    cloud_template: CloudTemplateIn | None = Field(
        description="The Cloud API template of doctors outside their 24 h window; null: none."
    )
    without_template: int = Field(
        description="Recipients whose message went without the Cloud template: a mapped field"
        " had no value and no fallback (held as needs_template on a Cloud number)."
    )


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class RenderedSample(BaseModel):
    contact_id: UUID
    phone: str = Field(description="Masked.")
    body: str
    cloud_template_parameters: list[str | None] | None = Field(
        None,
        description="The Cloud template's parameters filled for this doctor (null: the campaign"
        " names none); a null inside is a field the doctor lacks with no fallback, so the"
        " message would go without the template.",
    )


class CampaignPreview(BaseModel):
    campaign_id: UUID
    template: str
    placeholders: list[str]
    samples: list[RenderedSample]


Command = Callable[[asyncpg.Connection], Awaitable[dict[str, Any]]]

TRANSITION_TEXT = (
    "The campaign's state does not allow this (e.g. pausing a draft), or a request with this"
    " Idempotency-Key is still in progress."
)
TRANSITION = problem_answers({409: TRANSITION_TEXT})
REGISTRY_DOWN = "The dispatcher's template registry could not check the Cloud template."


async def _once(
    pool: asyncpg.Pool, scope: str, key: str | None, body: Any, command: Command
) -> Response:
    async def work(conn: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
        return 200, await command(conn)

    stored = await run_once(pool, scope=scope, key=check_key(key), request_body=body, work=work)
    return stored.to_response()


class CampaignsController(Controller):
    path = "/v1/campaigns"
    tags = ["campaigns"]  # noqa: RUF012 - the Litestar idiom
    opt = {"resource": "campaigns"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)
    dependencies = {"campaign_config": Provide(campaign_settings, sync_to_thread=False)}  # noqa: RUF012

    @post(
        "/",
        summary="Create a campaign (draft)",
        status_code=201,
        responses=problem_answers({409: IN_PROGRESS, 503: REGISTRY_DOWN}),
    )
    async def create(
        self,
        data: JSONBody[CreateCampaign],
        pool: Pool,
        clock: Clock,
        campaign_config: CampaignConfig,
        registry: Registry,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Campaign]:
        """The template's placeholders and the audience (``segment_id`` or ``filter``) are checked
        now (422 naming the problem); the audience is evaluated when the campaign starts.
        Defaults are the spec's: ``max_per_day`` 50 (send ``null`` for no cap), ``priority`` 3.
        With ``scheduled_for`` the campaign is created scheduled (as ``/schedule`` would).
        A ``cloud_template`` is checked against the dispatcher's registry first (503 when it
        cannot be asked: never accepted unchecked)."""
        if data.cloud_template is not None:
            await check_cloud_template(registry, data.cloud_template)

        async def work(conn: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
            return 201, await create_campaign(
                conn, data, clock(), campaign_config.followup_min_delay
            )

        stored = await run_once(
            pool,
            scope="POST /v1/campaigns",
            key=check_key(idempotency_key),
            request_body=data.model_dump(mode="json"),
            work=work,
        )
        return stored.to_response()

    @get("/", summary="List campaigns (cursor pagination)")
    async def search(
        self,
        pool: Pool,
        settings: Settings,
        campaign_state: Annotated[
            str | None, QueryParameter(name="state", description="Only campaigns in this state.")
        ] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> CampaignPage:
        async with pool.acquire() as conn:
            page = await list_campaigns(
                conn,
                state=campaign_state,
                cursor=cursor,
                limit=check_limit(limit, settings.page_max_limit),
            )
        return CampaignPage.model_validate(page)

    @get("/{campaign_id:uuid}", summary="Read a campaign")
    async def read(self, campaign_id: FromPath[UUID], pool: Pool) -> Campaign:
        async with pool.acquire() as conn:
            return Campaign.model_validate(await get_campaign(conn, campaign_id))

    @patch(
        "/{campaign_id:uuid}",
        summary="Edit a draft",
        responses=problem_answers({409: "The campaign is no longer a draft.", 503: REGISTRY_DOWN}),
    )
    async def change(
        self,
        campaign_id: FromPath[UUID],
        data: JSONBody[CampaignFields],
        pool: Pool,
        clock: Clock,
        campaign_config: CampaignConfig,
        registry: Registry,
    ) -> Campaign:
        """Only a draft can be edited (409 otherwise); fields not sent keep their value."""
        if data.cloud_template is not None:
            await check_cloud_template(registry, data.cloud_template)
        async with pool.acquire() as conn, conn.transaction():
            updated = await update_campaign(
                conn, campaign_id, data, clock(), campaign_config.followup_min_delay
            )
            return Campaign.model_validate(updated)

    @post(
        "/{campaign_id:uuid}/schedule",
        summary="Schedule a draft",
        status_code=200,
        responses=TRANSITION,
    )
    async def schedule(
        self,
        campaign_id: FromPath[UUID],
        data: JSONBody[ScheduleCampaign],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Campaign]:
        """The scheduler starts it at ``at``; rescheduling a scheduled campaign moves it."""
        return await _once(
            pool,
            f"POST /v1/campaigns/{campaign_id}/schedule",
            idempotency_key,
            data.model_dump(mode="json"),
            lambda conn: schedule_campaign(conn, campaign_id, data.at, clock()),
        )

    @post(
        "/{campaign_id:uuid}/start",
        summary="Start now",
        status_code=200,
        responses=problem_answers({409: TRANSITION_TEXT + " Or its audience is no longer valid."}),
    )
    async def start(
        self,
        campaign_id: FromPath[UUID],
        pool: Pool,
        clock: Clock,
        campaign_config: CampaignConfig,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Campaign]:
        """Snapshots the audience and hands it to fan-out. Idempotent: starting a started
        campaign answers it unchanged and enqueues nobody again."""
        zone = campaign_config.campaign_time_zone
        return await _once(
            pool,
            f"POST /v1/campaigns/{campaign_id}/start",
            idempotency_key,
            None,
            lambda conn: start_campaign(conn, campaign_id, clock(), zone),
        )

    @post(
        "/{campaign_id:uuid}/pause",
        summary="Pause a running campaign",
        status_code=200,
        responses=TRANSITION,
    )
    async def pause(
        self,
        campaign_id: FromPath[UUID],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Campaign]:
        """Fan-out stops; ``campaign.paused`` tells the dispatcher to hold its queued messages."""
        return await _once(
            pool,
            f"POST /v1/campaigns/{campaign_id}/pause",
            idempotency_key,
            None,
            lambda conn: pause_campaign(conn, campaign_id, clock()),
        )

    @post(
        "/{campaign_id:uuid}/resume",
        summary="Resume a paused campaign",
        status_code=200,
        responses=TRANSITION,
    )
    async def resume(
        self,
        campaign_id: FromPath[UUID],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Campaign]:
        return await _once(
            pool,
            f"POST /v1/campaigns/{campaign_id}/resume",
            idempotency_key,
            None,
            lambda conn: resume_campaign(conn, campaign_id, clock()),
        )

    @post(
        "/{campaign_id:uuid}/cancel",
        summary="Cancel for good",
        status_code=200,
        responses=TRANSITION,
    )
    async def cancel(
        self,
        campaign_id: FromPath[UUID],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Campaign]:
        """``campaign.cancelled`` tells the dispatcher to drop the messages not yet sent."""
        return await _once(
            pool,
            f"POST /v1/campaigns/{campaign_id}/cancel",
            idempotency_key,
            None,
            lambda conn: cancel_campaign(conn, campaign_id, clock()),
        )

    @post(
        "/{campaign_id:uuid}/preview",
        summary="Render the message for sample recipients",
        status_code=200,
        responses=problem_answers({409: "The campaign's audience is no longer valid."}),
    )
    async def preview(
        self,
        campaign_id: FromPath[UUID],
        pool: Pool,
        clock: Clock,
        campaign_config: CampaignConfig,
        limit: FromQuery[int] = 5,
    ) -> CampaignPreview:
        if not 1 <= limit <= 20:
            raise invalid("limit", "must be between 1 and 20")
        async with pool.acquire() as conn:
            answer = await preview_campaign(
                conn, campaign_id, clock(), campaign_config.template_fallbacks, limit
            )
        return CampaignPreview.model_validate(answer)
