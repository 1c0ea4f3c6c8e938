"""The dispatcher's Cloud API template registry, asked over HTTP when a campaign names a template.

The dispatcher owns the registry (synced from each Cloud account, kept current by Meta's
webhooks); campaign-api never reads its schema. It calls ``GET /v1/templates?name=&language=``
with its own API key (``dispatcher_api_key``, the ``read`` scope is enough), as the console
calls the services. A registry that cannot be asked — no key configured, the dispatcher down,
slow, refusing the key or answering 5xx — is ``RegistryUnavailable``, which the API answers 503:
a campaign is never accepted with a template nobody checked, because its cold doctors would
all be refused by Meta (or held) at send time, long after the person who made it left.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from disparo_campaign_api.campaigns.cloud_templates import (
    CloudTemplateIn,
    MappingError,
    check_against_registry,
)
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.http import API_KEY_HEADER
from disparo_shared.problems import Problem, invalid

RETRY_AFTER_SECONDS = 30


class RegistryUnavailable(Exception):
    """The registry could not answer; ``reason`` says why, without any secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemplateRegistry(ABC):
    """Where a campaign's template is looked up (a class, not a Protocol: Litestar checks a
    dependency's value against its declared type)."""

    @abstractmethod
    async def find(self, name: str, language: str) -> list[Mapping[str, Any]]:
        """The registry's rows for ``name`` in ``language``, one per account (may be empty)."""


@dataclass(frozen=True)
class DispatcherTemplates(TemplateRegistry):
    """The registry behind the dispatcher's HTTP API."""

    base_url: str
    api_key: str | None
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: CampaignApiSettings) -> "DispatcherTemplates":
        key = settings.dispatcher_api_key
        return cls(
            settings.dispatcher_url,
            key.get_secret_value() if key else None,
            settings.dispatcher_timeout_seconds,
        )

    async def find(self, name: str, language: str) -> list[Mapping[str, Any]]:
        if not self.api_key:
            raise RegistryUnavailable("campaign-api has no dispatcher API key configured")
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout_seconds
            ) as http:
                answer = await http.get(
                    "/v1/templates",
                    params={"name": name, "language": language},
                    headers={API_KEY_HEADER: self.api_key},
                )
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"the dispatcher did not answer ({type(exc).__name__})"
            ) from exc
        if answer.status_code in (401, 403):
            raise RegistryUnavailable(
                f"the dispatcher refused campaign-api's key ({answer.status_code})"
            )
        if answer.status_code != 200:
            raise RegistryUnavailable(f"the dispatcher answered {answer.status_code}")
        rows = answer.json()
        if not isinstance(rows, list):
            raise RegistryUnavailable("the dispatcher's answer is not a list of templates")
        return rows


async def check_cloud_template(registry: TemplateRegistry, template: CloudTemplateIn) -> None:
    """Raise the API's problem unless ``template`` exists, is approved and fits its mapping:
    422 naming the field at fault, or 503 (with Retry-After) when the registry cannot answer."""
    try:
        listed = await registry.find(template.name, template.language)
    except RegistryUnavailable as exc:
        raise Problem(
            503,
            "Template registry unavailable",
            f"cloud_template cannot be checked now: {exc.reason}; try again",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    try:
        check_against_registry(template, list(listed))
    except MappingError as exc:
        raise invalid(exc.field, exc.reason) from None
