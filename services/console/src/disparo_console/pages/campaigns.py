"""Campanhas: the list with each funnel, a campaign's page (live funnel, hourly series, errors,
CSV), its message editor with preview, and pause / resume / cancel / start with confirmation."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from disparo_console.auth.roles import Permission, may
from disparo_console.clients.base import ApiError
from disparo_console.followup_plan_form import plan_summary
from disparo_console.followup_report import cadence_rows
from disparo_console.funnel import build_funnel, report_from_summary
from disparo_console.template_marks import mark_unknown
from disparo_console.web import console, current_session, form_values, page, requires, services
from disparo_shared.privacy import mask_phone

COMMANDS = {"start": ("draft", "scheduled"), "pause": ("running",), "resume": ("paused",),
            "cancel": ("draft", "scheduled", "running", "paused")}  # fmt: skip
LIST_SIZE = 20


async def summaries_by_id(svc: Any, campaigns: list[dict], now: datetime) -> dict[str, dict]:
    """reporting's counts of each of ``campaigns``, by id, from one overview call."""
    if not campaigns:
        return {}
    earliest = min(datetime.fromisoformat(c["created_at"]) for c in campaigns)
    overview = await svc.reporting.campaigns_overview(
        (earliest - timedelta(seconds=1)).isoformat(), (now + timedelta(minutes=1)).isoformat()
    )
    return {row["campaign_id"]: row for row in overview.get("campaigns", [])}


async def _with_funnels(svc: Any, campaigns: list[dict], now: datetime) -> list[dict]:
    """Each campaign with its funnel from one overview call to reporting (not one per row)."""
    if not campaigns:
        return []
    by_id = await summaries_by_id(svc, campaigns, now)
    rows = []
    for campaign in campaigns:
        summary = by_id.get(campaign["id"])
        report = report_from_summary(summary) if summary else None
        rows.append({"campaign": campaign, "funnel": build_funnel(campaign, report)})
    return rows


@get("/campanhas", guards=[requires(Permission.READ)])
async def campaign_list(
    request: Request, cursor: FromQuery[str | None] = None, estado: FromQuery[str | None] = None
) -> Template:
    svc = services(request)
    listing = await svc.campaigns.campaigns(state=estado or None, limit=LIST_SIZE, cursor=cursor)
    rows = await _with_funnels(svc, listing["items"], console(request).clock())
    return page(
        request,
        "campaigns/list.html",
        rows=rows,
        next_cursor=listing.get("next_cursor"),
        estado=estado or "",
    )


async def _campaign_view(request: Request, campaign_id: str) -> dict[str, Any]:
    svc = services(request)
    try:
        campaign = await svc.campaigns.campaign(campaign_id)
    except ApiError as exc:
        if exc.status in (404, 422):
            raise NotFoundException() from exc
        raise
    report = await svc.reporting.campaign_report(campaign_id)
    if report and not may(current_session(request).role, Permission.SEE_PHONES):
        responders = [
            {**r, "phone": mask_phone(r["phone"])} for r in report.get("top_responders", [])
        ]
        report = {**report, "top_responders": responders}
    return {
        "campaign": campaign,
        "plan": plan_summary(campaign.get("followups")),
        "report": report,
        "funnel": build_funnel(campaign, report),
        "cadence": cadence_rows(report),
        "hours": _hourly(report, console(request).zone),
        "series": SERIES,
        "errors": [
            {**error, "sender": group.get("sender")}
            for group in (report or {}).get("errors_by_sender", [])
            for error in group.get("errors", [])
        ],
        # A finished campaign keeps changing: deliveries, reads and replies arrive for days.
        "live": campaign["state"] in ("scheduled", "running", "paused", "completed"),
        "commands": [c for c, states in COMMANDS.items() if campaign["state"] in states],
    }


SERIES = ("sent", "delivered", "read", "replied")


def _hourly(report: dict | None, zone: Any) -> list[dict[str, Any]]:
    """reporting's hourly series in the console's zone, e.g.
    [{"label": "04/12 14h", "epoch": 1796490000, "values": [120, 110, 60, 9]}]."""
    out = []
    for point in (report or {}).get("hourly", []):
        hour = datetime.fromisoformat(point["start"]).astimezone(zone)
        out.append(
            {
                "label": hour.strftime("%d/%m %Hh"),
                "epoch": int(hour.timestamp()),
                "values": [point.get(key, 0) for key in SERIES],
            }
        )
    return out


@get("/campanhas/{campaign_id:uuid}", guards=[requires(Permission.READ)])
async def campaign_page(request: Request, campaign_id: FromPath[uuid.UUID]) -> Template:
    view = await _campaign_view(request, str(campaign_id))
    preview = None
    if view["campaign"]["state"] == "draft":
        preview = await _preview(request, str(campaign_id))
    return page(
        request, "campaigns/show.html", preview=preview, idempotency_key=str(uuid.uuid4()), **view
    )


@get("/campanhas/{campaign_id:uuid}/funil", guards=[requires(Permission.READ)])
async def campaign_funnel(request: Request, campaign_id: FromPath[uuid.UUID]) -> Template:
    """The live part of the campaign page, swapped in by htmx while the campaign runs."""
    view = await _campaign_view(request, str(campaign_id))
    return page(request, "partials/campaign_live.html", **view)


@get("/campanhas/{campaign_id:uuid}/mensagens.csv", guards=[requires(Permission.READ)])
async def campaign_csv(request: Request, campaign_id: FromPath[uuid.UUID]) -> Stream:
    return Stream(
        services(request).reporting.campaign_csv(str(campaign_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campanha-{campaign_id}.csv"'},
    )


@get(
    "/campanhas/{campaign_id:uuid}/confirmar/{command:str}",
    guards=[requires(Permission.RUN_CAMPAIGNS)],
)
async def confirm_command(
    request: Request, campaign_id: FromPath[uuid.UUID], command: FromPath[str]
) -> Template:
    if command not in COMMANDS:
        raise NotFoundException()
    view = await _campaign_view(request, str(campaign_id))
    return page(
        request,
        "campaigns/confirm.html",
        command=command,
        idempotency_key=str(uuid.uuid4()),
        **view,
    )


@post(
    "/campanhas/{campaign_id:uuid}/comando/{command:str}",
    guards=[requires(Permission.RUN_CAMPAIGNS)],
)
async def run_command(
    request: Request, campaign_id: FromPath[uuid.UUID], command: FromPath[str]
) -> Response:
    """Start, pause, resume or cancel; the form's idempotency key makes a double click one call."""
    if command not in COMMANDS:
        raise NotFoundException()
    form = form_values(await request.form())
    key = form.get("idempotency_key") or str(uuid.uuid4())
    try:
        await services(request).campaigns.command_campaign(str(campaign_id), command, key)
    except ApiError as exc:
        if exc.status != 409:
            raise
        view = await _campaign_view(request, str(campaign_id))
        return page(
            request,
            "campaigns/show.html",
            status_code=409,
            conflict=exc,
            preview=None,
            idempotency_key=str(uuid.uuid4()),
            **view,
        )
    return Redirect(f"/campanhas/{campaign_id}")


@post("/campanhas/{campaign_id:uuid}/agendar", guards=[requires(Permission.RUN_CAMPAIGNS)])
async def schedule(request: Request, campaign_id: FromPath[uuid.UUID]) -> Response:
    """``quando`` is a local date-time in the console's zone (datetime-local input)."""
    form = form_values(await request.form())
    error_key = None
    try:
        at = datetime.fromisoformat(form.get("quando", "")).replace(tzinfo=console(request).zone)
    except ValueError:
        error_key = "campaign.schedule.invalid"
    if error_key is None:
        try:
            await services(request).campaigns.schedule_campaign(
                str(campaign_id), at.isoformat(), form.get("idempotency_key") or str(uuid.uuid4())
            )
            return Redirect(f"/campanhas/{campaign_id}")
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            error_key = "campaign.schedule.refused"
    view = await _campaign_view(request, str(campaign_id))
    preview = await _preview(request, str(campaign_id))
    return page(
        request,
        "campaigns/show.html",
        status_code=422,
        schedule_error=error_key,
        preview=preview,
        idempotency_key=str(uuid.uuid4()),
        **view,
    )


async def _preview(request: Request, campaign_id: str) -> dict[str, Any]:
    try:
        return {
            "answer": await services(request).campaigns.preview_campaign(campaign_id),
            "errors": [],
        }
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return {
            "answer": None,
            "errors": exc.errors or [{"field": "template", "reason": exc.detail or exc.title}],
        }


@post("/campanhas/{campaign_id:uuid}/modelo", guards=[requires(Permission.RUN_CAMPAIGNS)])
async def edit_template(request: Request, campaign_id: FromPath[uuid.UUID]) -> Response:
    """Save the draft's message and answer its preview for sample doctors (htmx swaps it in
    while the user types; without JavaScript the whole page comes back)."""
    form = form_values(await request.form())
    errors: list[dict[str, str]] = []
    try:
        await services(request).campaigns.edit_campaign(
            str(campaign_id), {"template": form.get("template", "")}
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        errors = exc.errors or [{"field": "template", "reason": exc.detail or exc.title}]
    preview = (
        {"answer": None, "errors": errors} if errors else await _preview(request, str(campaign_id))
    )
    if request.headers.get("HX-Request"):
        return page(
            request,
            "partials/template_preview.html",
            preview=preview,
            template_text=form.get("template", ""),
            template_marks=mark_unknown(form.get("template", ""), [e["reason"] for e in errors]),
        )
    return Redirect(f"/campanhas/{campaign_id}")
