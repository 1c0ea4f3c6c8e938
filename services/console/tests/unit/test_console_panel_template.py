"""The Painel's live part rendered from the services' answers: the oldest waiting message's age
and its priority, the alerts with their links, and today's sends against what the numbers allow."""

from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from disparo_console import formatting
from disparo_console.alerts import active_alerts
from disparo_console.i18n import load_catalogue
from disparo_console.pages.dashboard import shown_params

TEMPLATES = Path(__file__).parents[2] / "src" / "disparo_console" / "templates"
ZONE = ZoneInfo("America/Sao_Paulo")


def render(**context) -> str:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )
    return environment.get_template("partials/dashboard_live.html").render(
        t=load_catalogue("pt-BR"), number=formatting.number, percent=formatting.percent,
        age=formatting.age, date_time=lambda v: formatting.date_time(v, ZONE),
        poll_seconds=5, **context,
    )  # fmt: skip


def test_the_oldest_waiting_message_leads_with_its_age_and_priority_and_alerts_link_out():
    queue = {"totals": {"queued": 40, "dead": 3},
             "by_priority": {"queued": {"3": 38, "8": 2}, "dead": {"3": 3}},
             "oldest_waiting_seconds": {"3": 1250.0, "8": 12.0},
             "oldest_waiting_seconds_max": 1250.0,
             "read_at": "2026-12-04T13:00:05+00:00"}  # fmt: skip
    senders = [{"sender_id": "sim-1", "provider": "evolution", "status": "active",
                "quality": "GREEN", "rate_per_second": 80, "sent_today": 120,
                "cap_today": 500}]  # fmt: skip
    alerts = active_alerts(queue, {"held": 0}, senders, [])
    html = render(
        stats={"sent_last_hour": 10, "sent_last_minute": 1, "delivery_rate": 0.9,
               "response_rate": 0.1},
        queue=queue, priorities=["8", "3"], oldest_priority="3", senders=senders,
        allowed_per_hour=288000, running=[], sent_today=120, allowed_today=500,
        alerts=[{"alert": a, "params": shown_params(a)} for a in alerts],
    )  # fmt: skip
    assert '<strong id="mais-antiga" data-seconds="1250">20 min</strong>' in html
    assert "na prioridade 3: pronta para sair e ainda na fila." in html
    assert "(leitura das 04/12/2026 10:00)" in html  # São Paulo time
    assert '<a href="/falhas">3 mensagens falharam de vez e esperam decisão</a>' in html
    late = "Fila atrasada na prioridade 3: a mensagem mais antiga espera há 20 min"
    assert f'<a href="/numeros">{late}</a>' in html
    assert "<strong>120</strong> enviadas hoje, de até 500 que os números ativos permitem" in html
