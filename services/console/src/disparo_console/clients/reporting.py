"""reporting: global stats, a campaign's report (funnel, series, errors), its CSV, and when
messages were delivered and read."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from disparo_console.clients.base import ApiError, ServiceClient


@dataclass(frozen=True)
class Reporting:
    client: ServiceClient

    async def stats(self) -> dict:
        return await self.client.request("GET", "/v1/stats")

    async def campaign_report(self, campaign_id: str) -> dict | None:
        """None while reporting has seen no event of the campaign (a fresh draft)."""
        try:
            return await self.client.request("GET", f"/v1/campaigns/{campaign_id}/report")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def message_times(self, message_ids: list[str]) -> dict[str, dict]:
        """When each message was sent, delivered and read, by id (unknown ids are absent), in one
        call; empty from a reporting that does not answer lookups yet."""
        if not message_ids:
            return {}
        try:
            answer = await self.client.request(
                "POST", "/v1/messages/lookup", json={"message_ids": message_ids[:100]}
            )
        except ApiError as exc:
            if exc.status in (404, 405):
                return {}
            raise
        return {m["message_id"]: m for m in answer["items"]}

    async def campaigns_overview(self, period_from: str, period_to: str, limit: int = 500) -> dict:
        """Each campaign started or created in [from, to) with its counts, in one call."""
        return await self.client.request(
            "GET",
            "/v1/campaigns/report",
            params={"from": period_from, "to": period_to, "limit": limit},
        )

    def campaign_csv(self, campaign_id: str) -> AsyncIterator[bytes]:
        return self.client.stream(f"/v1/campaigns/{campaign_id}/messages.csv")
