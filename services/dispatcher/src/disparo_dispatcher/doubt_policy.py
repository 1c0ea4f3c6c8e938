"""What a send in doubt becomes when nothing can tell whether the provider took it, per kind.

A send is in doubt after a crash or a lost answer (``in_doubt``). The provider's echo or its own
search (``providers.sent_lookup``) settles most doubts. What is left — a Cloud number whose
``sent`` statuses never came, an Evolution instance that keeps no messages or does not answer —
is a choice between two harms, made per message kind (``in_doubt_policy`` setting):

- **at most once** (campaigns, follow-ups, first contacts): a second copy of a campaign text
  is how a number collects spam reports and loses quality, and a missed campaign message costs
  little. The message stays 'in_doubt', *held for a person*: counted in the report (its last
  error ``in_doubt``), never sent again by itself, and put back in line with one call
  (``POST /v1/in-doubt/requeue``) by someone who looked.
- **at least once** (replies): the doctor is waiting for this answer in a live conversation, and
  a repeated reply is a small embarrassment next to a silent recruiter. It goes back in line.

Kinds the setting does not name are at most once: the harm of a duplicate is the one that
cannot be undone.
"""

from collections.abc import Mapping
from typing import Literal

AT_MOST_ONCE = "at_most_once"
AT_LEAST_ONCE = "at_least_once"
Policy = Literal["at_most_once", "at_least_once"]

DEFAULT_POLICIES: dict[str, Policy] = {
    "campaign": AT_MOST_ONCE,
    "followup": AT_MOST_ONCE,
    "first_contact": AT_MOST_ONCE,
    "reply": AT_LEAST_ONCE,
}


def policy_for(kind: str, policies: Mapping[str, str]) -> str:
    """The policy of a message ``kind``: ``policy_for("reply", DEFAULT_POLICIES)`` is
    ``at_least_once``; an unnamed kind is ``at_most_once``."""
    return policies.get(kind, AT_MOST_ONCE)
