"""followup: a conversation's cadence state and a run of the follow-up job now."""

from dataclasses import dataclass

from disparo_console.clients.base import ServiceClient


@dataclass(frozen=True)
class Followup:
    client: ServiceClient

    async def conversation(self, conversation_id: str) -> dict:
        return await self.client.request("GET", f"/v1/conversations/{conversation_id}")

    async def run_job(self) -> dict:
        return await self.client.request("POST", "/v1/admin/followups/run")
