"""The recruiting loop in numbers: what the follow-ups did for a campaign.

Per campaign: conversations, how many doctors replied and after how many follow-ups
(``replied_after_followups``: ``{"0": 12, "1": 5, "2": 1}`` — 0 is the campaign message itself),
follow-ups requested, sent and cancelled by reason, opt-outs and takeovers; per rule and attempt,
the share of follow-ups that were the last thing a doctor read before replying. Followup owns
conversations, so it answers this from its own tables; reporting keeps the per-message view.
"""

from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "loop_report.sql")


async def loop_report(pool: asyncpg.Pool, campaign_id: UUID | None) -> dict[str, Any]:
    async with pool.acquire() as conn:
        counts = await conn.fetchrow(SQL.loop_counts, campaign_id)
        attempts = await conn.fetch(SQL.reply_rate_by_attempt, campaign_id)
    return {
        "campaign_id": str(campaign_id) if campaign_id else None,
        **dict(counts),
        "by_rule": [
            {
                "rule": f"{row['rule_set']}/{row['stage']}",
                "attempt": row["attempt"],
                "sent": row["sent"],
                "replied_after": row["replied_after"],
                "reply_rate": round(row["replied_after"] / row["sent"], 4) if row["sent"] else None,
            }
            for row in attempts
        ],
    }
