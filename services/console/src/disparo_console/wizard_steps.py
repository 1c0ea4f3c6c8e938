"""The wizard's steps after the message: the follow-up plan and the Cloud template, with what
they need from followup (its rule sets) and the dispatcher (its numbers and template registry).

A service that does not answer leaves its step usable: without followup's rule sets the own
plan and "none" still work; without the dispatcher the template step shows, says the registry
could not be read, and campaign-api's own check (a 503) decides at creation.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from disparo_console.clients.base import ServiceUnavailable
from disparo_console.clients.services import Services
from disparo_console.cloud_template_form import (
    ApprovedTemplate,
    CloudTemplateForm,
    approved_templates,
    needs_cloud_template,
    read_cloud_template_form,
    render_body,
)
from disparo_console.followup_plan_form import plan_preview, read_plan_form

SAMPLE_FIELDS = ("name", "specialty", "region")
SAMPLES_SHOWN = 3


def samples_from_count(count: dict | None) -> list[dict[str, Any]]:
    """The audience's sample doctors the previews write for (name, specialty, region)."""
    answer = (count or {}).get("answer") or {}
    return [
        {k: d.get(k) for k in SAMPLE_FIELDS} for d in (answer.get("sample") or [])[:SAMPLES_SHOWN]
    ]


def samples_from_form(values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The same doctors, carried by the form as ``amostra-<i>-<field>`` hidden fields."""
    samples = []
    for i in range(SAMPLES_SHOWN):
        doctor = {k: values.get(f"amostra-{i}-{k}") or None for k in SAMPLE_FIELDS}
        if any(doctor.values()):
            samples.append(doctor)
    return samples


async def _answer_or_none(call: Any) -> Any:
    try:
        return await call
    except ServiceUnavailable:
        return None


async def _sources(svc: Services) -> tuple[list[dict] | None, list[dict] | None, list | None]:
    rule_sets, senders, registry = await asyncio.gather(
        _answer_or_none(svc.followup.rule_sets()),
        _answer_or_none(svc.dispatcher.senders()),
        _answer_or_none(svc.dispatcher.templates()),
    )
    return rule_sets, senders, registry


def _cloud_previews(form: CloudTemplateForm, samples: list[dict[str, Any]]) -> list[dict]:
    previews = []
    for doctor in samples or [{}]:
        body, complete = render_body(form, doctor)
        previews.append({"doctor": doctor, "body": body, "complete": complete})
    return previews if form.chosen else []


def _context(
    values: Mapping[str, str],
    samples: list[dict[str, Any]],
    rule_sets: list[dict] | None,
    templates: list[ApprovedTemplate],
) -> dict[str, Any]:
    plan = read_plan_form(values)
    cloud = read_cloud_template_form(values, templates)
    first_name = samples[0]["name"] if samples else None
    return {
        "plan": plan,
        "plan_steps": plan_preview(plan, rule_sets, first_name),
        "plan_doctor": first_name,
        "rule_sets": rule_sets,
        "cloud": cloud,
        "cloud_templates": templates,
        "cloud_previews": _cloud_previews(cloud, samples),
        "samples": samples,
    }


async def later_steps(
    svc: Services, values: Mapping[str, str], count: dict | None
) -> dict[str, Any]:
    """Everything the plan and template steps show, for the whole wizard page."""
    rule_sets, senders, registry = await _sources(svc)
    templates = approved_templates(registry) if registry is not None else []
    samples = samples_from_count(count) if count is not None else samples_from_form(values)
    return {
        **_context(values, samples, rule_sets, templates),
        # Unknown numbers (dispatcher down): show the step rather than hide a need.
        "cloud_needed": senders is None
        or needs_cloud_template(senders)
        or bool(values.get("modelo_cloud")),
        "registry_unavailable": registry is None,
    }


async def plan_preview_context(svc: Services, values: Mapping[str, str]) -> dict[str, Any]:
    """The previews alone, as the user types (the samples come with the form)."""
    rule_sets, registry = await asyncio.gather(
        _answer_or_none(svc.followup.rule_sets()),
        _answer_or_none(svc.dispatcher.templates()),
    )
    templates = approved_templates(registry) if registry is not None else []
    return _context(values, samples_from_form(values), rule_sets, templates)
