"""The HTTP edge of reporting: parse the request, call a read function, shape the answer."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from disparo_reporting import privacy
from disparo_reporting.csv_export import campaign_recipients_csv
from disparo_reporting.overview import (
    Direction,
    InvalidCursor,
    OverviewPage,
    SortKey,
    campaigns_overview,
)
from disparo_reporting.replay import RebuildInProgress, RebuildResult, rebuild
from disparo_reporting.reports import (
    CampaignReport,
    MessageStatus,
    MessageTimes,
    ReportOptions,
    Stats,
    campaign_known,
    campaign_report,
    global_stats,
    message_status,
    message_times,
)
from disparo_reporting.retention import stream_max_age
from disparo_reporting.settings import ReportingSettings
from disparo_shared.access import caller_grants
from disparo_shared.audit import audit_contact
from disparo_shared.contact_export import EXPORT_PATH, EXPORT_SCOPE, ContactExportRequest
from disparo_shared.problems import Problem, invalid
from disparo_shared.runtime import Runtime


@dataclass(frozen=True)
class Deps:
    """What the handlers need, resolved per request (the pool exists only once started)."""

    runtime: Runtime
    settings: ReportingSettings
    clock: Callable[[], datetime]

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool


PHONES_SCOPE = "contacts:phones"
MAX_LOOKUP = 100


@dataclass(frozen=True)
class MessageLookup:
    message_ids: list[UUID]


@dataclass(frozen=True)
class MessageTimesPage:
    items: list[MessageTimes]


def may_see_phones(request: Request) -> bool:
    """Whether this caller gets phones and reply texts in clear: its key holds
    ``contacts:phones`` (the same scope that shows phones in campaign-api)."""
    return caller_grants(request, PHONES_SCOPE)


def _campaign_not_found(campaign_id: UUID) -> Problem:
    return Problem(HTTP_404_NOT_FOUND, "Campaign not found", f"no events of campaign {campaign_id}")


class ReportsController(Controller):
    path = "/v1"
    tags = ("reports",)
    opt = {"resource": "reports"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)

    @get("/messages/{message_id:uuid}")
    async def get_message(
        self, deps: NamedDependency[Deps], message_id: FromPath[UUID]
    ) -> MessageStatus:
        """A message's current state and its status history, oldest first."""
        status = await message_status(deps.pool, message_id)
        if status is None:
            raise Problem(
                HTTP_404_NOT_FOUND, "Message not found", f"no events of message {message_id}"
            )
        return status

    @post("/messages/lookup", status_code=200, opt={"scope": "reports:read"})
    async def lookup_messages(
        self, deps: NamedDependency[Deps], data: JSONBody[MessageLookup]
    ) -> MessageTimesPage:
        """At most 100 messages' state and when each was sent, delivered and read; unknown ids
        are left out (a doctor's timeline asks for a page of its messages in one call)."""
        if not 1 <= len(data.message_ids) <= MAX_LOOKUP:
            raise invalid("message_ids", f"between 1 and {MAX_LOOKUP} ids")
        return MessageTimesPage(await message_times(deps.pool, data.message_ids))

    @get("/stats")
    async def get_stats(self, deps: NamedDependency[Deps]) -> Stats:
        """Messages per state, sends in the last minute and hour,
        global delivery and response rates.
        """
        return await global_stats(deps.pool, deps.clock())

    @get("/campaigns/report")
    async def get_campaigns_overview(
        self,
        deps: NamedDependency[Deps],
        period_from: Annotated[
            datetime,
            QueryParameter(name="from", description="Start of the period (ISO 8601, inclusive)."),
        ],
        period_to: Annotated[
            datetime,
            QueryParameter(name="to", description="End of the period (ISO 8601, exclusive)."),
        ],
        sort: Annotated[
            SortKey, QueryParameter(description="Column to sort by.")
        ] = SortKey.STARTED_AT,
        order: Annotated[Direction, QueryParameter(description="Sort direction.")] = Direction.DESC,
        limit: Annotated[
            int | None, QueryParameter(ge=1, le=500, description="Campaigns per page.")
        ] = None,
        cursor: Annotated[
            str | None,
            QueryParameter(max_length=200, description="next_cursor of the previous page."),
        ] = None,
    ) -> OverviewPage:
        """Every campaign that started (or was created) in [from, to), with size, sends,
        delivery, read, reply and opt-out rates and the cost of failures; sortable, paginated."""
        if period_from.tzinfo is None or period_to.tzinfo is None:
            raise invalid("from" if period_from.tzinfo is None else "to", "needs a UTC offset")
        if period_to <= period_from:  # [from, to) holds no instant: no campaign started in it
            return OverviewPage([], None)
        try:
            return await campaigns_overview(
                deps.pool,
                period_from,
                period_to,
                sort,
                order,
                limit or deps.settings.overview_page_size,
                cursor,
                deps.settings.message_price,
            )
        except InvalidCursor as exc:
            raise invalid("cursor", str(exc)) from exc

    @get("/campaigns/{campaign_id:uuid}/report")
    async def get_campaign_report(
        self, request: Request, deps: NamedDependency[Deps], campaign_id: FromPath[UUID]
    ) -> CampaignReport:
        """The campaign's funnel and rates, top responders, errors explained by sender, hourly
        and daily series in the report's zone, reply times (p50/p90) and whether the streams
        still hold its events."""
        options = ReportOptions(
            top_responders=deps.settings.top_responders,
            reveal_phones=may_see_phones(request),
            time_zone=deps.settings.time_zone,
            stream_max_age=await stream_max_age(deps.runtime),
        )
        report = await campaign_report(deps.pool, campaign_id, options, deps.clock())
        if report is None:
            raise _campaign_not_found(campaign_id)
        return report

    @get("/campaigns/{campaign_id:uuid}/messages.csv", media_type="text/csv")
    async def get_campaign_csv(
        self,
        request: Request,
        deps: NamedDependency[Deps],
        campaign_id: FromPath[UUID],
        bom: Annotated[
            bool,
            QueryParameter(description="Start with a UTF-8 byte order mark (for Excel in pt-BR)."),
        ] = False,
    ) -> Stream:
        """The campaign's recipients as ``;``-separated CSV (nome, telefone, especialidade,
        região, status de envio, respondeu, primeira resposta em, respondeu após), streamed."""
        if not await campaign_known(deps.pool, campaign_id):
            raise _campaign_not_found(campaign_id)
        return Stream(
            campaign_recipients_csv(
                deps.pool,
                campaign_id,
                deps.settings.csv_batch_size,
                reveal_phones=may_see_phones(request),
                time_zone=deps.settings.time_zone,
                bom=bom,
            ),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
        )

    @post(EXPORT_PATH.removeprefix("/v1"), status_code=200, opt={"scope": EXPORT_SCOPE})
    async def export_contact(
        self, request: Request, deps: NamedDependency[Deps], data: JSONBody[ContactExportRequest]
    ) -> dict[str, Any]:
        """What reporting holds about a doctor (LGPD access request): their messages' states
        and times, their replies' first words, their consent. The phone is in the body, so it
        never reaches an access log; the audit trail names the contact id."""
        audit_contact(request, data.contact_id)
        return await privacy.export_contact(deps.pool, data.phone)

    @post("/admin/rebuild", status_code=200, opt={"scope": "admin"})
    async def post_rebuild(self, deps: NamedDependency[Deps]) -> RebuildResult:
        """Empty the projections and replay the streams from the start; answers when done."""
        try:
            return await rebuild(
                deps.pool,
                deps.runtime.js,
                deps.runtime.settings.nats,
                timedelta(hours=deps.settings.reply_window_hours),
                now=deps.clock,
            )
        except RebuildInProgress as exc:
            raise Problem(HTTP_409_CONFLICT, "Rebuild in progress", str(exc)) from exc


def reporting_router(
    runtime: Runtime, settings: ReportingSettings, clock: Callable[[], datetime]
) -> Router:
    deps = Deps(runtime, settings, clock)
    return Router(
        path="/",
        route_handlers=[ReportsController],
        dependencies={"deps": Provide(lambda: deps, sync_to_thread=False)},
    )
