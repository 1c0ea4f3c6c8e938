"""followup: conversations (list, detail, take over, release, move stage) and the job.

The conversation list and the changes arrive with the loop work on followup; until then the
list answers 404 and ``conversations`` answers None, so the page can say what waits.
"""

from dataclasses import dataclass
from typing import Any

from disparo_console.clients.base import ApiError, ServiceClient


@dataclass(frozen=True)
class Followup:
    client: ServiceClient

    async def conversations(
        self, filters: dict[str, Any], cursor: str | None = None, limit: int = 50
    ) -> dict | None:
        """A page of conversations, or None when this followup does not serve the list yet."""
        params = {k: v for k, v in filters.items() if v}
        params["limit"] = limit
        if cursor:
            params["cursor"] = cursor
        try:
            return await self.client.request("GET", "/v1/conversations", params=params)
        except ApiError as exc:
            if exc.status in (404, 405):
                return None
            raise

    async def conversation(self, conversation_id: str) -> dict:
        return await self.client.request("GET", f"/v1/conversations/{conversation_id}")

    async def change(
        self, conversation_id: str, action: str, by: str, reason: str | None, stage: str | None
    ) -> dict:
        """``action`` is takeover, release or stage (with ``stage``)."""
        body: dict[str, Any] = {"by": by, "reason": reason or None}
        if action == "stage":
            body["stage"] = stage
        return await self.client.request(
            "POST", f"/v1/conversations/{conversation_id}/{action}", json=body
        )

    async def timeline(self, contact_id: str, cursor: str | None = None, limit: int = 30) -> dict:
        """A page of the doctor's messages in every conversation, newest first."""
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return await self.client.request(
            "GET", f"/v1/contacts/{contact_id}/timeline", params=params
        )

    async def rule_sets(self) -> list[dict] | None:
        """Every rule set's newest version, or None when this followup does not serve them yet."""
        try:
            answer = await self.client.request("GET", "/v1/followup-rules")
        except ApiError as exc:
            if exc.status in (404, 405):
                return None
            raise
        return answer.get("rule_sets", [])

    async def save_rules(
        self, name: str, rules: dict[str, Any], by: str, expected_version: int | None
    ) -> dict:
        """Save the rule set's next version; 409 when ``expected_version`` is not the newest."""
        body = {"name": name, "by": by, "expected_version": expected_version, "rules": rules}
        return await self.client.request("PUT", "/v1/followup-rules", json=body)

    async def run_job(self) -> dict:
        return await self.client.request("POST", "/v1/admin/followups/run")
