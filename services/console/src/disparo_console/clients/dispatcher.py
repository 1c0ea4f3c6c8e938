"""dispatcher: numbers (senders), the Cloud template registry, queue depth, dead letters."""

from dataclasses import dataclass

from disparo_console.clients.base import ServiceClient


@dataclass(frozen=True)
class Dispatcher:
    client: ServiceClient

    async def senders(self) -> list[dict]:
        return await self.client.request("GET", "/v1/senders")

    async def templates(self) -> list[dict]:
        """The Cloud API template registry as last synced: one row per account, name and
        language, with its ``status``, ``body`` and ``parameters`` in order."""
        return await self.client.request("GET", "/v1/templates")

    async def set_sender_status(self, sender_id: str, status: str) -> dict:
        """``status`` is active (resume) or paused."""
        return await self.client.request(
            "PATCH", f"/v1/senders/{sender_id}", json={"status": status}
        )

    async def queue_stats(self) -> dict:
        """Depth by state and priority, the oldest waiting message's age by priority
        (``oldest_waiting_seconds``), from the dispatcher's last periodic read (``read_at``)."""
        return await self.client.request("GET", "/v1/queue/stats")

    async def messages(self, message_ids: list[str]) -> dict[str, dict]:
        """Our messages' text and queue state by id (unknown ids are absent), in one call."""
        if not message_ids:
            return {}
        answer = await self.client.request(
            "POST", "/v1/messages/lookup", json={"message_ids": message_ids[:100]}
        )
        return {m["message_id"]: m for m in answer["items"]}

    async def held_in_doubt(self) -> dict:
        """Sends held for a person to decide (``held``, ``by_campaign``)."""
        return await self.client.request("GET", "/v1/in-doubt")

    async def requeue_in_doubt(self, choice: dict[str, str]) -> dict:
        """Send again held sends: ``{"campaign_id": …}`` for one campaign's, ``{}`` for all."""
        return await self.client.request("POST", "/v1/in-doubt/requeue", json=choice)

    async def requeue_message(self, message_id: str) -> dict:
        return await self.client.request("POST", f"/v1/dead-letters/{message_id}/requeue")

    async def requeue_campaign_failures(self, campaign_id: str) -> dict:
        return await self.client.request("POST", f"/v1/campaigns/{campaign_id}/requeue-failed")
