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


def summary_text(summary: FollowupSummary) -> str:
    """E.g. "Follow-ups de 02/03/2026: 12 solicitados (pos_interesse: 3, primeiro_contato: 9)"."""
    day = summary.ran_at.strftime("%d/%m/%Y")
    if not summary.requested:
        return f"Follow-ups de {day}: nenhum follow-up devido."
    stages = ", ".join(f"{stage}: {count}" for stage, count in sorted(summary.by_stage.items()))
    return f"Follow-ups de {day}: {summary.requested} solicitados ({stages})"


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
