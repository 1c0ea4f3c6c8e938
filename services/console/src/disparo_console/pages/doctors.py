"""Médicos: search, a doctor's page with consent history, opt-out / opt-in with a reason, and
the CSV import with its counts and invalid rows (shown and downloadable)."""

import asyncio
import csv
import io
import json
import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from disparo_console.auth.roles import Permission
from disparo_console.clients.base import ApiError, ServiceUnavailable
from disparo_console.db import SQL
from disparo_console.web import (
    catalogue_for,
    console,
    current_session,
    form_values,
    page,
    requires,
    services,
)

FILTERS = ("specialty", "region", "status", "opted_out")
PAGE_SIZE = 25
TIMELINE_PAGE = 30


@get("/medicos", guards=[requires(Permission.READ)])
async def doctor_list(request: Request) -> Template:
    """``busca`` is a name fragment or a whole phone (campaign-api's ``q``); the other filters
    narrow it. Phones are shown masked whatever the console's key may see."""
    query = {k: request.query_params.get(k, "") for k in (*FILTERS, "busca")}
    api_filters: dict[str, Any] = {
        k: v for k, v in query.items() if v and k not in ("opted_out", "busca")
    }
    if query["opted_out"] in ("true", "false"):
        api_filters["opted_out"] = query["opted_out"]
    if query["busca"].strip():
        api_filters["q"] = query["busca"].strip()
    try:
        listing = await services(request).campaigns.contacts(
            api_filters, limit=PAGE_SIZE, cursor=request.query_params.get("cursor")
        )
    except ApiError as exc:
        if exc.status != 422:
            raise
        return page(request, "doctors/list.html", status_code=422, query=query, doctors=[],
                    next_cursor=None, search_refused=True)  # fmt: skip
    return page(
        request,
        "doctors/list.html",
        query=query,
        doctors=listing["items"],
        next_cursor=listing.get("next_cursor"),
    )


async def _doctor(request: Request, contact_id: str) -> dict[str, Any]:
    svc = services(request)
    try:
        doctor = await svc.campaigns.contact(contact_id)
    except ApiError as exc:
        if exc.status == 404:
            raise NotFoundException() from exc
        raise
    history = await svc.campaigns.consent_history(contact_id)
    return {"doctor": doctor, "consent": history}


async def _timeline(request: Request, contact_id: str, cursor: str | None) -> dict[str, Any]:
    """A page of the doctor's messages (followup) with what we sent and its state (dispatcher,
    one call), when each was delivered and read (reporting, one call) and each campaign's name
    (campaign-api); None when followup does not answer, so the rest of the page still shows."""
    svc = services(request)
    try:
        timeline = await svc.followup.timeline(contact_id, cursor, limit=TIMELINE_PAGE)
    except ServiceUnavailable:
        return {"timeline": None, "campaign_names": {}, "sent_messages": {}, "message_times": {}}
    ids = sorted({m["campaign_id"] for m in timeline["items"] if m.get("campaign_id")})
    ours = [m["message_id"] for m in timeline["items"] if m.get("message_id")]
    sent, times, *found = await asyncio.gather(
        svc.dispatcher.messages(ours),
        svc.reporting.message_times(ours),
        *(svc.campaigns.campaign(i) for i in ids),
        return_exceptions=True,
    )
    # The texts stay with the dispatcher, the times with reporting: either may be down, and
    # the rest of the timeline still shows.
    sent, times = (_or_empty(answer) for answer in (sent, times))
    names = {i: c["name"] for i, c in zip(ids, found, strict=True) if isinstance(c, dict)}
    for failure in found:
        if isinstance(failure, BaseException) and not (
            isinstance(failure, ApiError) and failure.status == 404
        ):
            raise failure
    return {
        "timeline": timeline,
        "campaign_names": names,
        "sent_messages": sent,
        "message_times": times,
    }


def _or_empty(answer: Any) -> dict[str, dict]:
    if isinstance(answer, ServiceUnavailable):
        return {}
    if isinstance(answer, BaseException):
        raise answer
    return answer


@get("/medicos/{contact_id:uuid}", guards=[requires(Permission.READ)])
async def doctor_page(
    request: Request, contact_id: FromPath[uuid.UUID], mensagens: FromQuery[str | None] = None
) -> Template:
    """The doctor's facts, consent state and history, and their messages across campaigns and
    follow-ups (``mensagens`` is the timeline's cursor for older ones)."""
    doctor, timeline = await asyncio.gather(
        _doctor(request, str(contact_id)), _timeline(request, str(contact_id), mensagens)
    )
    return page(
        request,
        "doctors/show.html",
        idempotency_key=str(uuid.uuid4()),
        older=bool(mensagens),
        **doctor,
        **timeline,
    )


@post("/medicos/{contact_id:uuid}/consentimento", guards=[requires(Permission.EDIT_DOCTORS)])
async def change_consent(request: Request, contact_id: FromPath[uuid.UUID]) -> Response:
    """``acao`` descadastrar or recadastrar; both need ``motivo``: the reason to opt out, or
    where the doctor's renewed consent is kept (campaign-api refuses an opt-in without it)."""
    form = form_values(await request.form())
    reason = form.get("motivo", "").strip()
    key = form.get("idempotency_key") or str(uuid.uuid4())
    campaigns = services(request).campaigns
    if not reason:
        return page(
            request,
            "doctors/show.html",
            status_code=422,
            reason_missing=True,
            idempotency_key=key,
            **await _doctor(request, str(contact_id)),
            **await _timeline(request, str(contact_id), None),
        )
    if form.get("acao") == "descadastrar":
        await campaigns.opt_out(str(contact_id), reason, key)
    else:
        await campaigns.opt_in(str(contact_id), reason, key)
    return Redirect(f"/medicos/{contact_id}")


@get("/medicos/importar", guards=[requires(Permission.EDIT_DOCTORS)])
async def import_form(request: Request) -> Template:
    return page(request, "doctors/import.html", idempotency_key=str(uuid.uuid4()))


@post("/medicos/importar", guards=[requires(Permission.EDIT_DOCTORS)], request_max_body_size=None)
async def import_csv(request: Request) -> Response:
    """Hands the file to campaign-api as CSV and keeps its answer for the result page."""
    ctx = console(request)
    form = await request.form()
    upload = form.get("arquivo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page(
            request,
            "doctors/import.html",
            status_code=422,
            file_missing=True,
            idempotency_key=str(uuid.uuid4()),
        )
    body = await upload.read()
    if len(body) > ctx.settings.import_max_bytes:
        return page(
            request,
            "doctors/import.html",
            status_code=413,
            file_too_large=True,
            idempotency_key=str(uuid.uuid4()),
        )
    key = form.get("idempotency_key") if isinstance(form.get("idempotency_key"), str) else None
    try:
        result = await services(request).campaigns.import_csv(body, key or str(uuid.uuid4()))
    except ApiError as exc:
        if exc.status not in (400, 413, 415, 422):
            raise
        return page(
            request,
            "doctors/import.html",
            status_code=422,
            refused=exc,
            idempotency_key=str(uuid.uuid4()),
        )
    import_id = uuid.uuid4()
    await ctx.db().execute(
        SQL.insert_import,
        import_id,
        current_session(request).user_id,
        upload.filename[:200],
        json.dumps(result),
        ctx.clock(),
    )
    return Redirect(f"/medicos/importacoes/{import_id}")


async def _import(request: Request, import_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    row = await console(request).db().fetchrow(SQL.get_import, import_id)
    if row is None:
        raise NotFoundException()
    result = row["result"]
    return {**dict(row), "result": json.loads(result) if isinstance(result, str) else result}


@get("/medicos/importacoes/{import_id:uuid}", guards=[requires(Permission.READ)])
async def import_result(request: Request, import_id: FromPath[uuid.UUID]) -> Template:
    return page(request, "doctors/import_result.html", imported=await _import(request, import_id))


@get("/medicos/importacoes/{import_id:uuid}/invalidas.csv", guards=[requires(Permission.READ)])
async def invalid_rows_csv(request: Request, import_id: FromPath[uuid.UUID]) -> Response:
    imported = await _import(request, import_id)
    t = catalogue_for(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t("import.column.row"), t("import.column.field"), t("import.column.reason")])
    for error in imported["result"].get("errors", []):
        writer.writerow([error["row"], error["field"], error["reason"]])
    return Response(
        out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="linhas-invalidas-{import_id}.csv"'},
    )
