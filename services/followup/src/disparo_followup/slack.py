"""Posts the job's summary to a Slack incoming webhook, when one is configured.

The webhook URL is a secret (anyone holding it can post to the channel): it never reaches a
log line, not even inside an error message, so failures are logged by type and status only.
A failed summary never fails the job; the follow-ups are already requested.
"""

import httpx
from pydantic import SecretStr

from disparo_followup.job import FollowupSummary
from disparo_shared.logging import get_logger

log = get_logger(__name__)


SKIP_REASONS_PT = {
    "replied": "responderam",
    "opted_out": "pediram para sair",
    "taken_over": "com um humano",
    "max_reached": "já no limite",
    "waiting_for_delay": "ainda no prazo",
    "previous_not_sent_yet": "anterior não enviado",
    "no_phone": "sem telefone",
    "never_written": "sem mensagem nossa",
}


def summary_text(summary: FollowupSummary) -> str:
    """E.g. "Follow-ups de 02/03/2026: 12 solicitados" and a line per rule:
    "• padrao/primeiro_contato: 9 agendados; pulados: 3 responderam, 1 com um humano"."""
    day = summary.ran_at.strftime("%d/%m/%Y")
    head = (
        f"Follow-ups de {day}: {summary.requested} solicitados"
        if summary.requested
        else f"Follow-ups de {day}: nenhum follow-up devido."
    )
    lines = [head]
    for key, outcome in sorted(summary.by_rule.items()):
        skipped = ", ".join(
            f"{n} {SKIP_REASONS_PT.get(reason, reason)}"
            for reason, n in sorted(outcome.skipped.items())
        )
        lines.append(
            f"• {key}: {outcome.scheduled} agendados" + (f"; pulados: {skipped}" if skipped else "")
        )
    return "\n".join(lines)


async def post_summary(
    client: httpx.AsyncClient, webhook_url: SecretStr, summary: FollowupSummary
) -> bool:
    """True when Slack accepted the summary."""
    try:
        response = await client.post(
            webhook_url.get_secret_value(), json={"text": summary_text(summary)}, timeout=10.0
        )
    except httpx.HTTPError as exc:
        log.warning("slack summary not posted", error_type=type(exc).__name__)
        return False
    if response.is_success:
        return True
    log.warning("slack summary rejected", status_code=response.status_code)
    return False
