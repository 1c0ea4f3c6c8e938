"""Nova campanha: the segment builder with its live count, the message, the follow-up plan, the
Cloud template when a number needs one, and the draft.

The form carries an idempotency key made when the page was drawn, handed to campaign-api as
``Idempotency-Key``: a double click, or a reload that posts again, creates one campaign.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from disparo_console.auth.roles import Permission
from disparo_console.clients.base import ApiError
from disparo_console.segment_form import (
    FIELDS,
    MAX_DEPTH,
    MAX_NODES,
    SegmentForm,
    read_segment_form,
    tree_from_filter,
)
from disparo_console.template_marks import mark_unknown
from disparo_console.web import form_values, page, requires, services
from disparo_console.wizard_errors import FieldError, place_errors, registry_unavailable
from disparo_console.wizard_steps import later_steps, plan_preview_context

DEFAULT_TEMPLATE = (
    "Olá, {primeiro_nome}! Temos plantões de {especialidade} em {regiao}. Podemos conversar?"
)


async def _segments(request: Request) -> dict[str, list[dict]]:
    svc = services(request)
    predefined = await svc.campaigns.predefined_segments()
    saved = (await svc.campaigns.saved_segments()).get("items", [])
    return {"predefined": predefined, "saved": saved}


def _opened(form: SegmentForm, segments: dict) -> tuple[SegmentForm, str | None]:
    """The chosen saved or predefined segment opened in the builder, to see or change; the
    builder's filter then stands for it (same audience: relative dates stay relative)."""
    chosen = next(
        (s for s in [*segments["predefined"], *segments["saved"]] if s["id"] == form.segment_id),
        None,
    )
    if chosen is None:
        return form, None
    opened = SegmentForm(
        tree=tree_from_filter(chosen["filter"]),
        max_per_day=form.max_per_day,
        focus="combinator",
    )
    return opened, chosen["name"]


async def _count(request: Request, form: SegmentForm) -> dict[str, Any]:
    """The audience preview, or the API's reasons when the filter is refused."""
    try:
        answer = await services(request).campaigns.preview_segment(
            filter_=form.filter() if not form.segment_id else None,
            segment_id=form.segment_id or None,
            max_per_day=form.max_per_day_value(),
        )
        return {"answer": answer, "errors": []}
    except ApiError as exc:
        if exc.status != 422:
            raise
        return {
            "answer": None,
            "errors": exc.errors or [{"field": "filter", "reason": exc.detail or exc.title}],
        }


async def _builder(
    request: Request,
    form: SegmentForm,
    count: dict | None,
    segments: dict,
    values: Mapping[str, str] | None = None,
    **extra: Any,
) -> Template:
    steps = await later_steps(services(request), values or {}, count)
    return page(
        request,
        "campaigns/new.html",
        form=form,
        fields=FIELDS,
        max_depth=MAX_DEPTH,
        max_nodes=MAX_NODES,
        count=count,
        segments=segments,
        idempotency_key=extra.pop("idempotency_key", None) or str(uuid.uuid4()),
        field_errors=extra.pop("field_errors", {}),
        **steps,
        **extra,
    )


@get("/campanhas/nova", guards=[requires(Permission.RUN_CAMPAIGNS)])
async def new_campaign(request: Request) -> Template:
    form = read_segment_form({})
    return await _builder(
        request,
        form,
        await _count(request, form),
        await _segments(request),
        name="",
        template_text=DEFAULT_TEMPLATE,
    )


@post("/campanhas/nova/contagem", guards=[requires(Permission.RUN_CAMPAIGNS)])
async def live_count(request: Request) -> Template:
    """The count, the estimate and a sample for the builder as it stands (htmx partial)."""
    form = read_segment_form(form_values(await request.form()))
    return page(request, "partials/segment_count.html", count=await _count(request, form))


@post("/campanhas/nova/previa", guards=[requires(Permission.RUN_CAMPAIGNS)])
async def live_steps_preview(request: Request) -> Template:
    """The follow-up plan's and the Cloud template's previews as the form stands (htmx
    partial); the sample doctors come with the form, so no count is run again."""
    values = form_values(await request.form())
    context = await plan_preview_context(services(request), values)
    return page(request, "partials/wizard_previews.html", **context)


@post("/campanhas/nova", guards=[requires(Permission.RUN_CAMPAIGNS)])
async def create_draft(request: Request) -> Response:
    values = form_values(await request.form())
    action = values.get("acao", "criar")
    form = read_segment_form(values, action)
    name = values.get("name", "").strip()
    template_text = values.get("template", "")
    if action == "salvar":
        return await _save_segment(request, form, values, name, template_text)
    if action != "criar":  # an edit of the builder, or the count refreshed without JavaScript
        segments = await _segments(request)
        loaded = None
        if action == "carregar":
            form, loaded = _opened(form, segments)
        return await _builder(
            request,
            form,
            await _count(request, form),
            segments,
            values,
            name=name,
            template_text=template_text,
            idempotency_key=values.get("idempotency_key"),
            loaded_segment=loaded,
        )
    fields: dict[str, Any] = {"name": name, "template": template_text}
    if form.segment_id:
        fields["segment_id"] = form.segment_id
    else:
        fields["filter"] = form.filter()
    if form.max_per_day_value():
        fields["max_per_day"] = form.max_per_day_value()
    steps = await later_steps(services(request), values, None)
    if (followups := steps["plan"].followups()) is not None:
        fields["followups"] = followups
    if (cloud_template := steps["cloud"].cloud_template()) is not None:
        fields["cloud_template"] = cloud_template
    try:
        created = await services(request).campaigns.create_campaign(
            fields, values.get("idempotency_key") or str(uuid.uuid4())
        )
    except ApiError as exc:
        if exc.status not in (422, 503):
            raise
        errors = exc.errors or [{"field": "", "reason": exc.detail or exc.title}]
        placed = (
            registry_unavailable(exc.detail or exc.title)
            if exc.status == 503
            else place_errors(errors)
        )
        return await _builder(
            request,
            form,
            await _count(request, form),
            await _segments(request),
            values,
            status_code=exc.status,
            name=name,
            template_text=template_text,
            field_errors=placed,
            idempotency_key=values.get("idempotency_key"),
            **_template_marks(template_text, placed),
        )
    return Redirect(f"/campanhas/{created['id']}")


def _template_marks(template_text: str, placed: dict[str, list[FieldError]]) -> dict[str, Any]:
    """The message with its faulty placeholders marked, only when campaign-api faulted it."""
    if "template" not in placed:
        return {}
    return {"template_marks": mark_unknown(template_text, [e.detail for e in placed["template"]])}


async def _save_segment(
    request: Request, form: SegmentForm, values: dict[str, str], name: str, template_text: str
) -> Template:
    """Save the builder's filter as a named segment and show the builder again, with it."""
    segment_name = values.get("segment_name", "").strip()
    notice, status = None, 200
    if not segment_name:
        notice, status = "segment.save.name_missing", 422
    else:
        try:
            await services(request).campaigns.save_segment(segment_name, form.filter())
            notice = "segment.save.done"
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            notice, status = "segment.save.refused", 422
    return await _builder(
        request, form, await _count(request, form), await _segments(request), values,
        status_code=status, name=name, template_text=template_text, segment_notice=notice,
        segment_name=segment_name, idempotency_key=values.get("idempotency_key"),
    )  # fmt: skip
