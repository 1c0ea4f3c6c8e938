"""campaign-api: contacts, segments and campaigns (``/v1/contacts``, ``/v1/segments``,
``/v1/campaigns``)."""

from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from disparo_console.clients.base import ServiceClient


def _key(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


@dataclass(frozen=True)
class CampaignApi:
    client: ServiceClient

    # -- campaigns --------------------------------------------------------------------------
    async def campaigns(
        self, state: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> dict:
        params = {
            "limit": limit,
            **({"state": state} if state else {}),
            **({"cursor": cursor} if cursor else {}),
        }
        return await self.client.request("GET", "/v1/campaigns", params=params)

    async def campaign(self, campaign_id: str) -> dict:
        return await self.client.request("GET", f"/v1/campaigns/{campaign_id}")

    async def create_campaign(self, fields: dict[str, Any], idempotency_key: str) -> dict:
        return await self.client.request(
            "POST", "/v1/campaigns", json=fields, headers=_key(idempotency_key)
        )

    async def edit_campaign(self, campaign_id: str, fields: dict[str, Any]) -> dict:
        return await self.client.request("PATCH", f"/v1/campaigns/{campaign_id}", json=fields)

    async def preview_campaign(self, campaign_id: str, limit: int = 3) -> dict:
        return await self.client.request(
            "POST", f"/v1/campaigns/{campaign_id}/preview", params={"limit": limit}
        )

    async def schedule_campaign(self, campaign_id: str, at_iso: str, idempotency_key: str) -> dict:
        return await self.client.request(
            "POST",
            f"/v1/campaigns/{campaign_id}/schedule",
            json={"at": at_iso},
            headers=_key(idempotency_key),
        )

    async def command_campaign(self, campaign_id: str, command: str, idempotency_key: str) -> dict:
        """``command`` is start, pause, resume or cancel."""
        return await self.client.request(
            "POST", f"/v1/campaigns/{campaign_id}/{command}", headers=_key(idempotency_key)
        )

    # -- segments ---------------------------------------------------------------------------
    async def preview_segment(
        self,
        filter_: dict | None = None,
        segment_id: str | None = None,
        max_per_day: int | None = None,
    ) -> dict:
        body = {"filter": filter_, "segment_id": segment_id, "max_per_day": max_per_day}
        return await self.client.request(
            "POST", "/v1/segments/preview", json={k: v for k, v in body.items() if v is not None}
        )

    async def predefined_segments(self) -> list[dict]:
        return await self.client.request("GET", "/v1/segments/predefined")

    async def save_segment(self, name: str, filter_: dict) -> dict:
        return await self.client.request(
            "POST", "/v1/segments", json={"name": name, "filter": filter_}
        )

    async def saved_segments(self, limit: int = 100) -> dict:
        return await self.client.request("GET", "/v1/segments", params={"limit": limit})

    # -- contacts ---------------------------------------------------------------------------
    async def contacts(
        self, filters: dict[str, Any], limit: int = 25, cursor: str | None = None
    ) -> dict:
        params = {k: v for k, v in filters.items() if v not in (None, "")}
        params["limit"] = limit
        if cursor:
            params["cursor"] = cursor
        return await self.client.request("GET", "/v1/contacts", params=params)

    async def contact(self, contact_id: str) -> dict:
        return await self.client.request("GET", f"/v1/contacts/{contact_id}")

    async def consent_history(self, contact_id: str) -> list[dict]:
        return await self.client.request("GET", f"/v1/contacts/{contact_id}/consent")

    async def opt_out(self, contact_id: str, reason: str, idempotency_key: str) -> dict:
        return await self.client.request(
            "POST",
            f"/v1/contacts/{contact_id}/opt-out",
            json={"reason": reason},
            headers=_key(idempotency_key),
        )

    async def opt_in(self, contact_id: str, consent_reference: str, idempotency_key: str) -> dict:
        """campaign-api refuses an opt-in without a reference to the doctor's consent."""
        return await self.client.request(
            "POST",
            f"/v1/contacts/{contact_id}/opt-in",
            json={"consent_reference": consent_reference},
            headers=_key(idempotency_key),
        )

    async def import_csv(self, body: bytes | AsyncIterable[bytes], idempotency_key: str) -> dict:
        return await self.client.request(
            "POST",
            "/v1/contacts/import",
            content=body,
            headers={"Content-Type": "text/csv", **_key(idempotency_key)},
        )
