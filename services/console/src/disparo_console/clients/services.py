"""The four service clients, opened once per process and bound to a user per request."""

from dataclasses import dataclass

import httpx

from disparo_console.clients.base import ACTING_ROLE_HEADER, ACTING_USER_HEADER, ServiceClient
from disparo_console.clients.campaign_api import CampaignApi
from disparo_console.clients.dispatcher import Dispatcher
from disparo_console.clients.followup import Followup
from disparo_console.clients.reporting import Reporting
from disparo_console.settings import ConsoleSettings


@dataclass(frozen=True)
class Services:
    campaigns: CampaignApi
    reporting: Reporting
    dispatcher: Dispatcher
    followup: Followup


class ServiceConnections:
    """One pooled HTTP client per service for the life of the process."""

    def __init__(self, settings: ConsoleSettings) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        headers = {"X-API-Key": key}
        timeout = httpx.Timeout(settings.service_timeout_seconds)

        def client(url: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout)

        self.http = {
            "campaign-api": client(settings.campaign_api_url),
            "reporting": client(settings.reporting_url),
            "dispatcher": client(settings.dispatcher_url),
            "followup": client(settings.followup_url),
        }

    def for_user(self, username: str, role: str) -> Services:
        actor = {ACTING_USER_HEADER: username, ACTING_ROLE_HEADER: role}

        def bound(name: str) -> ServiceClient:
            return ServiceClient(name, self.http[name], actor)

        return Services(
            campaigns=CampaignApi(bound("campaign-api")),
            reporting=Reporting(bound("reporting")),
            dispatcher=Dispatcher(bound("dispatcher")),
            followup=Followup(bound("followup")),
        )

    async def close(self) -> None:
        for http in self.http.values():
            await http.aclose()
