"""Painel: sends in the last hour, the queue by priority, the numbers, running campaigns."""

import asyncio
from typing import Any

from litestar import Request, get
from litestar.response import Template

from disparo_console.auth.roles import Permission
from disparo_console.funnel import build_funnel
from disparo_console.web import page, requires, services


async def _overview(request: Request) -> dict[str, Any]:
    svc = services(request)
    stats, queue, senders, running = await asyncio.gather(
        svc.reporting.stats(),
        svc.dispatcher.queue_stats(),
        svc.dispatcher.senders(),
        svc.campaigns.campaigns(state="running", limit=20),
    )
    reports = await asyncio.gather(
        *(svc.reporting.campaign_report(c["id"]) for c in running["items"])
    )
    campaigns = [
        {"campaign": c, "funnel": build_funnel(c, r)}
        for c, r in zip(running["items"], reports, strict=True)
    ]
    allowed_per_hour = sum(s["rate_per_second"] * 3600 for s in senders if s["status"] == "active")
    priorities = sorted(
        {p for counts in queue.get("by_priority", {}).values() for p in counts},
        key=int,
        reverse=True,
    )
    return {
        "stats": stats,
        "queue": queue,
        "priorities": priorities,
        "senders": senders,
        "allowed_per_hour": allowed_per_hour,
        "running": campaigns,
    }


@get("/", guards=[requires(Permission.READ)])
async def dashboard(request: Request) -> Template:
    return page(request, "dashboard.html", **await _overview(request))


@get("/painel/ao-vivo", guards=[requires(Permission.READ)])
async def dashboard_live(request: Request) -> Template:
    return page(request, "partials/dashboard_live.html", **await _overview(request))
