"""A doctor's data export (LGPD access request), composed from every service's own answer.

Each service owns its tables and answers for them over its HTTP API; none reads another's
schema, and no service holds keys to call the others. So the export is composed here, by a
client holding one key with ``contacts:phones``: campaign-api's ``GET
/v1/contacts/{id}/export`` gives the profile (and the phone), then the dispatcher, followup and
reporting answer ``POST /v1/contacts/export`` with the contact id and that phone in the body
(never in a URL, where access logs would keep it).
"""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import httpx

from disparo_shared.contact_export import EXPORT_PATH

SERVICES_BY_PHONE = ("dispatcher", "followup", "reporting")


class ExportFailed(Exception):
    """A service did not answer its part; the export is refused rather than left incomplete."""

    def __init__(self, service: str, status: int, detail: str) -> None:
        super().__init__(f"{service} answered {status}: {detail}")
        self.service = service
        self.status = status


async def export_contact(
    clients: Mapping[str, httpx.AsyncClient], contact_id: UUID
) -> dict[str, Any]:
    """Everything disparo holds about ``contact_id``: one key per service, each its own answer.

    ``clients`` maps ``campaign-api`` and each of ``SERVICES_BY_PHONE`` to a client whose base
    URL is that service and whose headers carry the API key.
    """
    profile = await _answer(
        "campaign-api", await clients["campaign-api"].get(f"/v1/contacts/{contact_id}/export")
    )
    question = {"contact_id": str(contact_id), "phone": profile["profile"]["phone"]}
    export: dict[str, Any] = {"contact_id": str(contact_id), "campaign-api": profile}
    for service in SERVICES_BY_PHONE:
        export[service] = await _answer(
            service, await clients[service].post(EXPORT_PATH, json=question)
        )
    return export


async def _answer(service: str, response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise ExportFailed(service, response.status_code, response.text[:500])
    return response.json()
