"""HTTP edge of segments: preview an audience, saved segments CRUD, the predefined ones."""

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from disparo_campaign_api.campaign_settings import CampaignConfig, campaign_settings
from disparo_campaign_api.dependencies import Clock, Pool, Settings
from disparo_campaign_api.idempotency import IN_PROGRESS, IdempotencyKeyHeader, check_key, run_once
from disparo_campaign_api.pagination import check_limit
from disparo_campaign_api.segments.handlers import (
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    predefined_segments_json,
    preview_segment,
    update_segment,
)
from disparo_shared.problems import problem_answers
from disparo_shared.text_input import SafeLine

FILTER_DOC = (
    'A filter: {"all": [...]} / {"any": [...]} groups of {"field", "op", "value"} conditions over'
    " specialty, region, status (eq, neq, in, not_in), tags (any, all, none), interactions"
    " (replies received: eq, gte, gt, lte, lt), last_contact_at (our last message or theirs) /"
    " last_inbound_at (theirs) / last_outbound_at (ours) / created_at (before, after with an ISO"
    ' date or {"days_ago": n}; exists), attributes.<name> (eq, neq, in, exists).'
)
EXAMPLE_FILTER = {
    "all": [
        {"field": "specialty", "op": "eq", "value": "Anestesiologia"},
        {"field": "region", "op": "eq", "value": "ABC"},
        {"any": [
            {"field": "tags", "op": "any", "value": ["disponível"]},
            {"field": "last_contact_at", "op": "before", "value": {"days_ago": 30}},
        ]},
    ]
}  # fmt: skip


class PreviewRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    segment_id: str | None = Field(None, description="A saved segment's uuid or predefined:<key>.")
    filter: dict[str, Any] | None = Field(None, description=FILTER_DOC, examples=[EXAMPLE_FILTER])
    max_per_day: int | None = Field(
        None, ge=1, description="The campaign's daily cap, for the estimate."
    )


class SampleContact(BaseModel):
    id: UUID
    phone: str = Field(description="Masked, e.g. +5511*******21.")
    name: str | None
    specialty: str | None
    region: str | None
    tags: list[str]


class Exclusion(BaseModel):
    reason: str = Field(
        description="Why these contacts are left out: opted_out (they asked to stop). Erased "
        "doctors are gone from the table, so they match nothing and are not counted here."
    )
    count: int


class PreviewAnswer(BaseModel):
    count: int = Field(description="Exact number of contacts (opted-out ones never count).")
    matched: int = Field(description="Contacts the filter matches before any exclusion.")
    excluded: list[Exclusion] = Field(description="matched minus the sum of these counts is count.")
    sample: list[SampleContact]
    estimated_send_seconds: int = Field(description="An estimate; see estimate_note.")
    estimate_note: str


class SegmentIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: SafeLine = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    filter: dict[str, Any] = Field(description=FILTER_DOC, examples=[EXAMPLE_FILTER])


class SegmentPatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: SafeLine | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    filter: dict[str, Any] | None = Field(None, description=FILTER_DOC)


class Segment(BaseModel):
    id: str
    name: str
    description: str | None
    filter: dict[str, Any]
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class SegmentPage(BaseModel):
    items: list[Segment]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class SegmentsController(Controller):
    path = "/v1/segments"
    tags = ["segments"]  # noqa: RUF012 - the Litestar idiom
    opt = {"resource": "campaigns"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)
    dependencies = {"campaign_config": Provide(campaign_settings, sync_to_thread=False)}  # noqa: RUF012

    @post(
        "/preview", summary="Count, sample and send-time estimate of an audience", status_code=200
    )
    async def preview(
        self,
        data: JSONBody[PreviewRequest],
        pool: Pool,
        clock: Clock,
        campaign_config: CampaignConfig,
    ) -> PreviewAnswer:
        """Give ``segment_id`` (saved or ``predefined:<key>``) or an inline ``filter``. An unknown
        field or operator is a 422 whose ``errors[].field`` is the path, e.g.
        ``filter.all[1].op``."""
        async with pool.acquire() as conn:
            answer = await preview_segment(
                conn,
                segment_id=data.segment_id,
                raw_filter=data.filter,
                max_per_day=data.max_per_day,
                now=clock(),
                send_rate_per_second=campaign_config.assumed_send_rate_per_second,
            )
        return PreviewAnswer.model_validate(answer)

    @get("/predefined", summary="The predefined segments (relative dates evaluated at use)")
    async def predefined(self) -> list[Segment]:
        return [Segment.model_validate(s) for s in predefined_segments_json()]

    @post(
        "/",
        summary="Save a segment",
        status_code=201,
        responses=problem_answers({409: IN_PROGRESS}),
    )
    async def create(
        self,
        data: JSONBody[SegmentIn],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Segment]:
        async def work(conn: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
            return 201, await create_segment(
                conn,
                name=data.name,
                description=data.description,
                raw_filter=data.filter,
                now=clock(),
            )

        stored = await run_once(
            pool,
            scope="POST /v1/segments",
            key=check_key(idempotency_key),
            request_body=data.model_dump(mode="json"),
            work=work,
        )
        return stored.to_response()

    @get("/", summary="List saved segments (cursor pagination)")
    async def search(
        self,
        pool: Pool,
        settings: Settings,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> SegmentPage:
        async with pool.acquire() as conn:
            page = await list_segments(
                conn, cursor=cursor, limit=check_limit(limit, settings.page_max_limit)
            )
        return SegmentPage.model_validate(page)

    @get("/{segment_id:uuid}", summary="Read a saved segment")
    async def read(self, segment_id: FromPath[UUID], pool: Pool) -> Segment:
        async with pool.acquire() as conn:
            return Segment.model_validate(await get_segment(conn, segment_id))

    @patch("/{segment_id:uuid}", summary="Change a saved segment")
    async def change(
        self, segment_id: FromPath[UUID], data: JSONBody[SegmentPatch], pool: Pool, clock: Clock
    ) -> Segment:
        """Campaigns that have not started yet will use the new definition."""
        changes = data.model_dump(exclude_unset=True)
        async with pool.acquire() as conn:
            return Segment.model_validate(
                await update_segment(conn, segment_id, changes=changes, now=clock())
            )

    @delete(
        "/{segment_id:uuid}",
        summary="Delete a saved segment",
        status_code=204,
        responses=problem_answers({409: "A campaign that has not started yet targets it."}),
    )
    async def remove(self, segment_id: FromPath[UUID], pool: Pool) -> None:
        """409 while a campaign that has not started yet targets it."""
        async with pool.acquire() as conn:
            await delete_segment(conn, segment_id)
