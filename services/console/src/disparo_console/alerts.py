"""The Painel's active alerts, read from the services' own signals, each with where to act
(pure, no I/O).

The signals: the dispatcher's queue (dead letters, the oldest waiting message per priority),
its sends held in doubt, its numbers (pause, quality, today's cap, the portfolio's 24 h tier
limit), and campaign-api's paused campaigns. With 12 dead messages, number ``sim-2`` rated
YELLOW and campaign "Plantões" paused, the alerts are, most severe first:
"12 mensagens falharam de vez" → /falhas, "sim-2 com qualidade amarela" → /numeros and
"Plantões está pausada" → /campanhas/<id>.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from disparo_shared.events.messages import URGENT_PRIORITY

CRITICAL, WARNING = "critical", "warning"
URGENT_WAIT_SECONDS = 60  # a reply waiting longer than this pages (CONSOLE.md)
BULK_WAIT_SECONDS = 15 * 60  # campaigns and follow-ups
TIER_SHARE_WARNING = 0.8  # of the portfolio's unique recipients in a rolling 24 h
PAUSED_SENDER = frozenset({"paused", "banned"})


@dataclass(frozen=True)
class Alert:
    severity: str  # critical or warning
    key: str  # catalogue key alert.<key>
    href: str  # where to act
    params: dict[str, Any] = field(default_factory=dict)


def queue_alerts(queue: Mapping[str, Any]) -> list[Alert]:
    """Dead letters, and a lane whose oldest ready message waited past its target."""
    found = []
    dead = int(queue.get("totals", {}).get("dead", 0))
    if dead:
        found.append(Alert(WARNING, "dead", "/falhas", {"n": dead}))
    for priority, age in (queue.get("oldest_waiting_seconds") or {}).items():
        urgent = int(priority) >= URGENT_PRIORITY
        if age > (URGENT_WAIT_SECONDS if urgent else BULK_WAIT_SECONDS):
            found.append(
                Alert(CRITICAL if urgent else WARNING, "late", "/numeros",
                      {"p": int(priority), "seconds": age})
            )  # fmt: skip
    return found


def in_doubt_alerts(in_doubt: Mapping[str, Any]) -> list[Alert]:
    held = int(in_doubt.get("held", 0))
    return [Alert(WARNING, "in_doubt", "/falhas#em-duvida", {"n": held})] if held else []


def sender_alerts(senders: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """A paused or blocked number, a quality below GREEN, a number at today's cap, and a
    portfolio past 80% of its 24 h limit (once per portfolio)."""
    found: list[Alert] = []
    portfolios_seen: set[str] = set()
    for s in senders:
        sender = s["sender_id"]
        if s.get("status") in PAUSED_SENDER:
            severity = CRITICAL if s["status"] == "banned" else WARNING
            reason = s.get("pause_reason") or ""
            found.append(
                Alert(
                    severity,
                    f"sender_{s['status']}",
                    "/numeros",
                    {"sender": sender, "reason": reason},
                )
            )
        quality = (s.get("quality") or "GREEN").upper()
        if quality in ("YELLOW", "RED"):
            severity = CRITICAL if quality == "RED" else WARNING
            found.append(
                Alert(severity, f"quality_{quality.lower()}", "/numeros", {"sender": sender})
            )
        cap, sent = s.get("cap_today"), s.get("sent_today")
        if cap is not None and sent is not None and sent >= cap:
            found.append(Alert(WARNING, "cap_reached", "/numeros", {"sender": sender, "n": cap}))
        limit, used = s.get("tier_limit"), s.get("portfolio_recipients_24h")
        portfolio = s.get("portfolio") or s.get("waba_id") or sender
        if limit and used is not None and used >= TIER_SHARE_WARNING * limit:
            if portfolio not in portfolios_seen:
                portfolios_seen.add(portfolio)
                severity = CRITICAL if used >= limit else WARNING
                found.append(Alert(severity, "tier", "/numeros",
                                   {"portfolio": portfolio, "share": used / limit}))  # fmt: skip
    return found


def campaign_alerts(paused: Iterable[Mapping[str, Any]]) -> list[Alert]:
    return [
        Alert(WARNING, "campaign_paused", f"/campanhas/{c['id']}", {"name": c["name"]})
        for c in paused
    ]


def active_alerts(
    queue: Mapping[str, Any],
    in_doubt: Mapping[str, Any],
    senders: Iterable[Mapping[str, Any]],
    paused_campaigns: Iterable[Mapping[str, Any]],
) -> list[Alert]:
    """Every active alert, critical ones first (the order within a severity is kept)."""
    found = [
        *queue_alerts(queue),
        *in_doubt_alerts(in_doubt),
        *sender_alerts(senders),
        *campaign_alerts(paused_campaigns),
    ]
    return sorted(found, key=lambda a: a.severity != CRITICAL)
