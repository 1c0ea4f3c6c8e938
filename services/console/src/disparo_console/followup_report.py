"""A campaign's follow-up breakdown as its page shows it: one row per message of the cadence,
the campaign's own first, with how many went out, how many doctors answered after it and how
many opted out after it (pure, no I/O).

From reporting's ``followup`` part of the report: with 10 sent in all, follow-up 1 sent 3 and
follow-up 2 sent 1, the campaign's message row has 6 sent; "answered after" is the message a
doctor's first reply came after (the latest one sent before it), and likewise for opt-outs.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class CadenceRow:
    attempt: int  # 0: the campaign's message; 1, 2…: its follow-ups
    sent: int
    replied_after: int
    opted_out_after: int
    cancelled: int  # dropped from the queue before going out (a reply, a person, an opt-out)
    failed: int


def cadence_rows(report: dict | None) -> list[CadenceRow]:
    """The rows, or none while the campaign has sent no follow-up yet."""
    breakdown = (report or {}).get("followup") or {}
    attempts = breakdown.get("attempts") or []
    if not attempts:
        return []
    replied = {a["attempt"]: a["doctors"] for a in breakdown.get("answered_after") or []}
    opted = {a["attempt"]: a["doctors"] for a in breakdown.get("opted_out_after") or []}
    sent_in_all = int(((report or {}).get("funnel") or {}).get("sent", 0))
    original_sent = max(sent_in_all - sum(int(a["sent"]) for a in attempts), 0)
    rows = [CadenceRow(0, original_sent, replied.get(0, 0), opted.get(0, 0), 0, 0)]
    for a in attempts:
        number = a["attempt"]
        rows.append(
            CadenceRow(
                number,
                int(a["sent"]),
                replied.get(number, 0),
                opted.get(number, 0),
                int(a.get("cancelled", 0)),
                int(a.get("failed", 0)),
            )
        )
    return rows
