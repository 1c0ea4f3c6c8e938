"""The Painel's alerts from the services' signals: which fire, how severe, where they point."""

import json

from disparo_console.alerts import CRITICAL, WARNING, active_alerts
from disparo_console.i18n import CATALOGUE_DIR
from disparo_console.pages.dashboard import shown_params

QUIET_QUEUE = {"totals": {"queued": 40}, "oldest_waiting_seconds": {"3": 120.0, "8": 5.0}}
GREEN = {"sender_id": "sim-1", "status": "active", "quality": "GREEN",
         "sent_today": 10, "cap_today": 1000}  # fmt: skip


def test_a_healthy_system_has_no_alert():
    assert active_alerts(QUIET_QUEUE, {"held": 0}, [GREEN], []) == []


def test_each_signal_raises_its_alert_pointing_where_to_act():
    queue = {"totals": {"dead": 12}, "oldest_waiting_seconds": {"3": 20 * 60, "8": 90.0}}
    senders = [
        {**GREEN, "sender_id": "sim-2", "quality": "YELLOW"},
        {**GREEN, "sender_id": "sim-3", "quality": "RED", "status": "paused",
         "pause_reason": "qualidade RED"},
        {**GREEN, "sender_id": "sim-4", "sent_today": 50, "cap_today": 50},
        {**GREEN, "sender_id": "cl-1", "portfolio": "bm-1", "tier_limit": 2000,
         "portfolio_recipients_24h": 1700},
        {**GREEN, "sender_id": "cl-2", "portfolio": "bm-1", "tier_limit": 2000,
         "portfolio_recipients_24h": 1700},
    ]  # fmt: skip
    paused = [{"id": "c-1", "name": "Plantões"}]
    found = active_alerts(queue, {"held": 3}, senders, paused)
    by_key = {(a.key, a.params.get("sender") or a.params.get("p")): a for a in found}
    assert by_key[("dead", None)].href == "/falhas"
    assert by_key[("late", 8)].severity == CRITICAL  # a reply waiting past 60 s pages
    assert by_key[("late", 3)].severity == WARNING  # a campaign past 15 min warns
    assert by_key[("in_doubt", None)].href == "/falhas#em-duvida"
    assert by_key[("quality_yellow", "sim-2")].severity == WARNING
    assert by_key[("quality_red", "sim-3")].severity == CRITICAL
    assert by_key[("sender_paused", "sim-3")].params["reason"] == "qualidade RED"
    assert by_key[("cap_reached", "sim-4")].href == "/numeros"
    assert [a.params["portfolio"] for a in found if a.key == "tier"] == ["bm-1"]  # once
    assert by_key[("campaign_paused", None)].href == "/campanhas/c-1"
    severities = [a.severity for a in found]
    assert severities == sorted(severities, key=lambda s: s != CRITICAL)  # critical first


def test_every_alert_reads_as_a_sentence_of_the_catalogue():
    catalogue = json.loads((CATALOGUE_DIR / "pt-BR.json").read_text(encoding="utf-8"))
    queue = {"totals": {"dead": 1240}, "oldest_waiting_seconds": {"9": 75.0}}
    senders = [
        {**GREEN, "status": "banned", "quality": "RED", "sent_today": 9, "cap_today": 9,
         "portfolio": "bm", "tier_limit": 250, "portfolio_recipients_24h": 250},
        {**GREEN, "sender_id": "sim-2", "status": "paused", "quality": "YELLOW"},
    ]  # fmt: skip
    found = active_alerts(queue, {"held": 2}, senders, [{"id": "c", "name": "X"}])
    sentences = [catalogue[f"alert.{a.key}"].format(**shown_params(a)) for a in found]
    assert "1.240 mensagens falharam de vez e esperam decisão" in sentences
    assert "Fila atrasada na prioridade 9: a mensagem mais antiga espera há 1 min" in sentences
    assert "Portfólio bm já usou 100,0% do limite de 24 h da Meta" in sentences
    assert len({a.key for a in found}) == 10
    assert all(f"alert.severity.{a.severity}" in catalogue for a in found)
