"""The HTTP edge of reporting: parse the request, call a read function, shape the answer."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from litestar import Controller, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Stream
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from disparo_reporting.csv_export import campaign_messages_csv
from disparo_reporting.replay import RebuildInProgress, RebuildResult, rebuild
from disparo_reporting.reports import (
    CampaignReport,
    MessageStatus,
    Stats,
    campaign_known,
    campaign_report,
    global_stats,
    message_status,
)
from disparo_reporting.settings import ReportingSettings
from disparo_shared.problems import Problem
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

    @get("/stats")
    async def get_stats(self, deps: NamedDependency[Deps]) -> Stats:
        """Messages per state, sends in the last minute and hour,
        global delivery and response rates.
        """
        return await global_stats(deps.pool, deps.clock())

    @get("/campaigns/{campaign_id:uuid}/report")
    async def get_campaign_report(
        self, deps: NamedDependency[Deps], campaign_id: FromPath[UUID]
    ) -> CampaignReport:
        """The campaign's funnel, rates, time to first reply, top errors and sends per hour."""
        report = await campaign_report(deps.pool, campaign_id, deps.settings.top_errors)
        if report is None:
            raise _campaign_not_found(campaign_id)
        return report

    @get("/campaigns/{campaign_id:uuid}/messages.csv", media_type="text/csv")
    async def get_campaign_csv(
        self, deps: NamedDependency[Deps], campaign_id: FromPath[UUID]
    ) -> Stream:
        """Every message of the campaign as CSV, streamed; phones are masked."""
        if not await campaign_known(deps.pool, campaign_id):
            raise _campaign_not_found(campaign_id)
        return Stream(
            campaign_messages_csv(deps.pool, campaign_id, deps.settings.csv_batch_size),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
        )

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
