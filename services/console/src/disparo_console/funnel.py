"""A campaign's funnel as the pages show it, replies first (pure, no I/O).

From campaign-api's campaign (state, audience) and reporting's report (message counts):
with 1.000 in the audience, 800 sent, 600 delivered, 300 read and 45 replied, the steps are
Público 1.000 · Na fila · Enviadas 800 (80%) · Entregues 600 · Lidas 300 · Respondidas 45 ·
Falhas; each step's share is of the audience, and "Respondidas" is the headline.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FunnelStep:
    key: str  # catalogue key funnel.<key>
    count: int
    share: float | None  # of the audience, None while the audience is unknown


@dataclass(frozen=True)
class Funnel:
    audience: int | None
    steps: tuple[FunnelStep, ...]
    replied: int
    response_rate: float | None
    progress: float | None  # sent or failed for good, of the audience


def build_funnel(campaign: dict, report: dict | None) -> Funnel:
    counts = (report or {}).get("funnel") or {}
    audience = campaign.get("audience_size") or counts.get("targeted")

    def share(n: int) -> float | None:
        return min(n / audience, 1.0) if audience else None

    queued = int(counts.get("requested", 0)) + int(counts.get("pending", 0))
    values = {
        "queued": queued,
        "sent": int(counts.get("sent", 0)),
        "delivered": int(counts.get("delivered", 0)),
        "read": int(counts.get("read", 0)),
        "replied": int(counts.get("replied", 0)),
        "dead": int(counts.get("dead", 0)),
    }
    steps = tuple(FunnelStep(key, n, share(n)) for key, n in values.items())
    done = values["sent"] + values["dead"]
    return Funnel(
        audience=audience,
        steps=steps,
        replied=values["replied"],
        response_rate=(report or {}).get("response_rate"),
        progress=share(done),
    )


def report_from_summary(summary: dict) -> dict:
    """reporting's overview row in the shape of a report's funnel, for the list's funnels."""
    return {
        "funnel": {
            "targeted": summary.get("size"),
            "sent": summary.get("sent", 0),
            "delivered": summary.get("delivered", 0),
            "read": summary.get("read", 0),
            "replied": summary.get("replied", 0),
            "dead": summary.get("dead", 0),
        },
        "response_rate": summary.get("reply_rate"),
    }
