"""Painel: the active alerts first, the oldest waiting message, sends in the last hour, the
queue by priority, the numbers, running campaigns."""

import asyncio
from typing import Any

from litestar import Request, get
from litestar.response import Template

from disparo_console import formatting
from disparo_console.alerts import Alert, active_alerts
from disparo_console.auth.roles import Permission
from disparo_console.funnel import build_funnel
from disparo_console.web import page, requires, services

PAUSED_SHOWN = 20  # paused campaigns named in the alerts; the list page has the rest


def shown_params(alert: Alert) -> dict[str, str]:
    """An alert's values as the sentence shows them: 1.240 · 12,5% · 3 min."""
    formats = {
        "n": formatting.number,
        "seconds": formatting.age,
        "share": formatting.percent,
        "reason": lambda reason: f"({reason})" if reason else "",
    }
    return {k: formats[k](v) if k in formats else str(v) for k, v in alert.params.items()}


async def _overview(request: Request) -> dict[str, Any]:
    svc = services(request)
    stats, queue, senders, running, paused, in_doubt = await asyncio.gather(
        svc.reporting.stats(),
        svc.dispatcher.queue_stats(),
        svc.dispatcher.senders(),
        svc.campaigns.campaigns(state="running", limit=20),
        svc.campaigns.campaigns(state="paused", limit=PAUSED_SHOWN),
        svc.dispatcher.held_in_doubt(),
    )
    reports = await asyncio.gather(
        *(svc.reporting.campaign_report(c["id"]) for c in running["items"])
    )
    campaigns = [
        {"campaign": c, "funnel": build_funnel(c, r)}
        for c, r in zip(running["items"], reports, strict=True)
    ]
    allowed_per_hour = sum(s["rate_per_second"] * 3600 for s in senders if s["status"] == "active")
    sent_today = sum(s.get("sent_today") or 0 for s in senders)
    capped = [s for s in senders if s["status"] == "active" and s.get("cap_today") is not None]
    uncapped = any(s["status"] == "active" and s.get("cap_today") is None for s in senders)
    allowed_today = None if uncapped else sum(s["cap_today"] for s in capped)
    priorities = sorted(
        {p for counts in queue.get("by_priority", {}).values() for p in counts}
        | set(queue.get("oldest_waiting_seconds") or {}),
        key=int,
        reverse=True,
    )
    waiting = queue.get("oldest_waiting_seconds") or {}
    oldest_priority = max(waiting, key=lambda p: waiting[p]) if waiting else None
    alerts = active_alerts(queue, in_doubt, senders, paused["items"])
    return {
        "stats": stats,
        "queue": queue,
        "priorities": priorities,
        "oldest_priority": oldest_priority,
        "senders": senders,
        "allowed_per_hour": allowed_per_hour,
        "sent_today": sent_today,
        "allowed_today": allowed_today,
        "running": campaigns,
        "alerts": [{"alert": a, "params": shown_params(a)} for a in alerts],
    }


@get("/", guards=[requires(Permission.READ)])
async def dashboard(request: Request) -> Template:
    return page(request, "dashboard.html", **await _overview(request))


@get("/painel/ao-vivo", guards=[requires(Permission.READ)])
async def dashboard_live(request: Request) -> Template:
    return page(request, "partials/dashboard_live.html", **await _overview(request))
