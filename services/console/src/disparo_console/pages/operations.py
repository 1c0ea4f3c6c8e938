"""The operators' pages: Números (pause/resume), Falhas (requeue), Follow-ups (run the job),
Conversas (a conversation's follow-up state, until followup serves lists and takeovers)."""

import asyncio
import uuid

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from disparo_console.auth.roles import Permission
from disparo_console.clients.base import ApiError
from disparo_console.web import form_values, page, requires, services

SENDER_ACTIONS = {"pausar": "paused", "retomar": "active"}


@get("/numeros", guards=[requires(Permission.READ)])
async def senders_page(request: Request) -> Template:
    return page(request, "senders.html", senders=await services(request).dispatcher.senders())


@post("/numeros/{sender_id:str}/{action:str}", guards=[requires(Permission.OPERATE)])
async def sender_action(
    request: Request, sender_id: FromPath[str], action: FromPath[str]
) -> Response:
    if action in SENDER_ACTIONS:
        await services(request).dispatcher.set_sender_status(sender_id, SENDER_ACTIONS[action])
    return Redirect("/numeros")


@get("/falhas", guards=[requires(Permission.READ)])
async def failures_page(request: Request) -> Template:
    svc = services(request)
    queue, listing = await asyncio.gather(
        svc.dispatcher.queue_stats(), svc.campaigns.campaigns(limit=50)
    )
    reports = await asyncio.gather(
        *(svc.reporting.campaign_report(c["id"]) for c in listing["items"])
    )
    failing = [
        {
            "campaign": c,
            "dead": r["funnel"]["dead"],
            "errors": [e for group in r.get("errors_by_sender", []) for e in group["errors"]],
        }
        for c, r in zip(listing["items"], reports, strict=True)
        if r and (r["funnel"]["dead"] or r.get("errors_by_sender"))
    ]
    return page(
        request,
        "failures.html",
        queue=queue,
        failing=failing,
        requeued=request.query_params.get("reenfileiradas"),
    )


@post("/falhas/campanhas/{campaign_id:uuid}", guards=[requires(Permission.OPERATE)])
async def requeue_campaign(request: Request, campaign_id: FromPath[uuid.UUID]) -> Response:
    answer = await services(request).dispatcher.requeue_campaign_failures(str(campaign_id))
    return Redirect(f"/falhas?reenfileiradas={int(answer.get('requeued', 0))}")


@post("/falhas/mensagem", guards=[requires(Permission.OPERATE)])
async def requeue_message(request: Request) -> Response:
    form = form_values(await request.form())
    try:
        message_id = str(uuid.UUID(form.get("message_id", "").strip()))
        await services(request).dispatcher.requeue_message(message_id)
    except (ValueError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status not in (404, 409, 422):
            raise
        return Redirect("/falhas?reenfileiradas=0")
    return Redirect("/falhas?reenfileiradas=1")


@get("/follow-ups", guards=[requires(Permission.READ)])
async def followups_page(request: Request) -> Template:
    return page(request, "followups.html", summary=None)


@post("/follow-ups/executar", guards=[requires(Permission.OPERATE)])
async def run_followups(request: Request) -> Template:
    summary = await services(request).followup.run_job()
    return page(request, "followups.html", summary=summary)


@get("/conversas", guards=[requires(Permission.READ)])
async def conversations_page(request: Request, conversa: FromQuery[str | None] = None) -> Template:
    found, missing = None, False
    if conversa:
        try:
            found = await services(request).followup.conversation(str(uuid.UUID(conversa.strip())))
        except (ValueError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status not in (404, 422):
                raise
            missing = True
    return page(
        request, "conversations.html", conversation=found, missing=missing, conversa=conversa or ""
    )
