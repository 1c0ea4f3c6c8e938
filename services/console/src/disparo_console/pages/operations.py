"""The operators' pages: Números (pause/resume), Falhas (requeue), Follow-ups (run the job),
Conversas (by stage and by who is in control; take over, hand back, move stage)."""

import asyncio
import uuid

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from disparo_console import followup_form
from disparo_console.auth.roles import Permission
from disparo_console.clients.base import ApiError
from disparo_console.pages.campaigns import summaries_by_id
from disparo_console.web import (
    catalogue_for,
    console,
    current_session,
    form_values,
    page,
    requires,
    services,
)

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
    queue, listing, in_doubt = await asyncio.gather(
        svc.dispatcher.queue_stats(),
        svc.campaigns.campaigns(limit=50),
        svc.dispatcher.held_in_doubt(),
    )
    names = {c["id"]: c["name"] for c in listing["items"]}
    held = [
        {"campaign_id": campaign_id, "name": names.get(campaign_id), "held": count}
        for campaign_id, count in sorted(in_doubt.get("by_campaign", {}).items())
    ]
    # the counts of all in one call; the errors explained only of those with dead messages
    counts = await summaries_by_id(svc, listing["items"], console(request).clock())
    with_dead = [c for c in listing["items"] if (counts.get(c["id"]) or {}).get("dead")]
    reports = await asyncio.gather(*(svc.reporting.campaign_report(c["id"]) for c in with_dead))
    failing = [
        {
            "campaign": c,
            "dead": r["funnel"]["dead"],
            "errors": [e for group in r.get("errors_by_sender", []) for e in group["errors"]],
        }
        for c, r in zip(with_dead, reports, strict=True)
        if r
    ]
    return page(
        request,
        "failures.html",
        queue=queue,
        failing=failing,
        held=held,
        held_total=in_doubt.get("held", 0),
        requeued=request.query_params.get("reenfileiradas"),
    )


@post("/falhas/em-duvida/{campaign_id:uuid}", guards=[requires(Permission.OPERATE)])
async def requeue_in_doubt(request: Request, campaign_id: FromPath[uuid.UUID]) -> Response:
    """Send again a campaign's sends held in doubt, after a person checked they did not go out."""
    answer = await services(request).dispatcher.requeue_in_doubt({"campaign_id": str(campaign_id)})
    return Redirect(f"/falhas?reenfileiradas={int(answer.get('requeued', 0))}")


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
    rule_sets = await services(request).followup.rule_sets()
    return page(request, "followups.html", summary=None, rule_sets=rule_sets,
                saved=request.query_params.get("salvo"))  # fmt: skip


async def _rule_set(request: Request, name: str) -> dict:
    found = {rs["name"]: rs for rs in await services(request).followup.rule_sets() or []}
    if name not in found:
        raise NotFoundException()
    return found[name]


def _rules_editor(request: Request, rule_set: dict, values: dict[str, str], **extra) -> Template:
    boxes = {
        stage: sum(1 for k in values if k.startswith(f"{stage}-texts-"))
        for stage in followup_form.STAGES
    }
    return page(request, "followup_edit.html", rule_set=rule_set, values=values, boxes=boxes,
                stages=followup_form.STAGES, separator=followup_form.VARIANT_SEPARATOR,
                **extra)  # fmt: skip


def _problem_text(request: Request, field: str, reason: str) -> dict[str, str]:
    """A refusal as the form shows it: the stage and field by their pt-BR names, what to write
    there, and followup's own words in parentheses."""
    t = catalogue_for(request)
    if not field:
        return {"label": "", "text": reason}
    stage, part = field.split("-", 1)
    part = part.split("-", 1)[0]  # texts-1 → texts
    label = f"{t('stage.' + stage)} — {t('followups.part.' + part)}"
    return {"label": label, "text": f"{t('followups.fix.' + part)} ({reason})"}


@get("/follow-ups/{name:str}/editar", guards=[requires(Permission.OPERATE)])
async def edit_rules_form(request: Request, name: FromPath[str]) -> Template:
    rule_set = await _rule_set(request, name)
    return _rules_editor(request, rule_set, followup_form.form_from_rules(rule_set["rules"]))


@post("/follow-ups/{name:str}/editar", guards=[requires(Permission.OPERATE)])
async def save_rules(request: Request, name: FromPath[str]) -> Response:
    """Save the rule set's next version in the user's name; followup's refusal (the field and
    why) or a newer version saved meanwhile comes back on the form with what was typed."""
    values = form_values(await request.form())
    rule_set = await _rule_set(request, name)
    version = values.get("expected_version", "")
    try:
        await services(request).followup.save_rules(
            name,
            followup_form.rules_from_form(values, rule_set["rules"]),
            current_session(request).username,
            int(version) if version.isdigit() else None,
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        problems = {
            followup_form.field_of_problem(e.get("field", "")) or "": e.get("reason", "")
            for e in exc.errors
        } or {"": exc.detail or exc.title}
        problems = {field: _problem_text(request, field, why) for field, why in problems.items()}
        return _rules_editor(request, rule_set, values, status_code=exc.status,
                             problems=problems, conflict=exc.status == 409)  # fmt: skip
    return Redirect(f"/follow-ups?salvo={name}")


@post("/follow-ups/executar", guards=[requires(Permission.OPERATE)])
async def run_followups(request: Request) -> Template:
    followup = services(request).followup
    summary = await followup.run_job()
    return page(request, "followups.html", summary=summary, rule_sets=await followup.rule_sets())


STAGES = ("primeiro_contato", "pos_interesse", "pos_oferta", "encerrada")
CONTROLLERS = ("automation", "human")
CONVERSATION_ACTIONS = {"assumir": "takeover", "devolver": "release", "etapa": "stage"}


@get("/conversas", guards=[requires(Permission.READ)])
async def conversations_page(
    request: Request,
    etapa: FromQuery[str | None] = None,
    conduzida_por: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Template:
    filters = {
        "stage": etapa if etapa in STAGES else None,
        "controller": conduzida_por if conduzida_por in CONTROLLERS else None,
    }
    listing = await services(request).followup.conversations(filters, cursor)
    return page(request, "conversations.html", listing=listing, stages=STAGES,
                controllers=CONTROLLERS, etapa=filters["stage"] or "",
                conduzida_por=filters["controller"] or "")  # fmt: skip


@get("/conversas/{conversation_id:uuid}", guards=[requires(Permission.READ)])
async def conversation_page(request: Request, conversation_id: FromPath[uuid.UUID]) -> Template:
    try:
        found = await services(request).followup.conversation(str(conversation_id))
    except ApiError as exc:
        if exc.status == 404:
            raise NotFoundException() from exc
        raise
    return page(request, "conversation.html", conversation=found, stages=STAGES,
                conflict=request.query_params.get("conflito"))  # fmt: skip


@post(
    "/conversas/{conversation_id:uuid}/{action:str}",
    guards=[requires(Permission.HANDLE_CONVERSATIONS)],
)
async def change_conversation(
    request: Request, conversation_id: FromPath[uuid.UUID], action: FromPath[str]
) -> Response:
    """Take over, hand back, or move the stage, in the user's name (kept in its history)."""
    if action not in CONVERSATION_ACTIONS:
        raise NotFoundException()
    form = form_values(await request.form())
    stage = form.get("stage") if form.get("stage") in STAGES else None
    try:
        await services(request).followup.change(
            str(conversation_id), CONVERSATION_ACTIONS[action],
            current_session(request).username, form.get("motivo", "").strip() or None, stage,
        )  # fmt: skip
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return Redirect(f"/conversas/{conversation_id}?conflito=1")
    return Redirect(f"/conversas/{conversation_id}")
