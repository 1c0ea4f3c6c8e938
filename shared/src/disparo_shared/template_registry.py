"""The dispatcher's Cloud API template registry as the services that name templates ask it.

The dispatcher owns the registry (synced from each Cloud account, kept current by Meta's
webhooks); no other service reads its schema. campaign-api (a campaign's template) and followup
(a rule set stage's template) call ``GET /v1/templates?name=&language=`` with their own API key
(the ``read`` scope is enough), as the console calls the services, and hold the mapping to
``check_mapping``. A registry that cannot be asked — no key configured, the dispatcher down,
slow, refusing the key or answering 5xx — is ``RegistryUnavailable``, answered 503 with
``Retry-After`` (``unavailable``): a template nobody checked is never accepted, because every
cold doctor would be refused by Meta (or held) at send time, long after its author left.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from disparo_shared.http import API_KEY_HEADER
from disparo_shared.problems import Problem

RETRY_AFTER_SECONDS = 30


class RegistryUnavailable(Exception):
    """The registry could not answer; ``reason`` says why, without any secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemplateRegistry(ABC):
    """Where a template is looked up (a class, not a Protocol: Litestar checks a dependency's
    value against its declared type)."""

    @abstractmethod
    async def find(self, name: str, language: str) -> list[Mapping[str, Any]]:
        """The registry's rows for ``name`` in ``language``, one per account (may be empty)."""


@dataclass(frozen=True)
class DispatcherTemplates(TemplateRegistry):
    """The registry behind the dispatcher's HTTP API."""

    base_url: str
    api_key: str | None
    timeout_seconds: float

    async def find(self, name: str, language: str) -> list[Mapping[str, Any]]:
        if not self.api_key:
            raise RegistryUnavailable("no dispatcher API key is configured")
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
                f"the dispatcher refused this service's key ({answer.status_code})"
            )
        if answer.status_code != 200:
            raise RegistryUnavailable(f"the dispatcher answered {answer.status_code}")
        rows = answer.json()
        if not isinstance(rows, list):
            raise RegistryUnavailable("the dispatcher's answer is not a list of templates")
        return rows


def unavailable(what: str, exc: RegistryUnavailable) -> Problem:
    """The 503 a service answers when ``what`` cannot be checked now."""
    return Problem(
        503,
        "Template registry unavailable",
        f"{what} cannot be checked now: {exc.reason}; try again",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@dataclass(frozen=True)
class MappingError(ValueError):
    """The mapping does not fit the registry: ``where`` is the path inside the template's own
    object (``("name",)``, ``("parameters",)``, ``("parameters", 1, "name")``), for the service
    to spell in its request's terms."""

    where: tuple[str | int, ...]
    reason: str


def check_mapping(
    name: str,
    language: str,
    parameter_names: Sequence[str | None],
    listed: Sequence[Mapping[str, Any]],
) -> None:
    """Raise ``MappingError`` unless ``listed`` (the registry's rows for this name and language,
    one per account) has it APPROVED, taking exactly the parameters mapped (``parameter_names``:
    one per mapped parameter, its name, or None for a positional one).

    Example: ``plantao_aviso``/pt_BR with body "Olá, {{1}}! … {{2}} …" takes two positional
    parameters; a mapping of three is "takes 2 body parameters ({{1}}, {{2}}), 3 mapped".
    """
    label = f"{name} ({language})"
    if not listed:
        raise MappingError(
            ("name",),
            f"no template {label} in the dispatcher's registry; create it at Meta, then sync"
            " the registry (POST /v1/templates/sync on the dispatcher)",
        )
    approved = [row for row in listed if row.get("status") == "APPROVED"]
    if not approved:
        statuses = ", ".join(sorted({str(row.get("status")) for row in listed}))
        raise MappingError(("name",), f"{label} is {statuses}, not APPROVED")
    shapes = {tuple(row.get("parameters") or []) for row in approved}
    if len(shapes) > 1:
        raise MappingError(
            ("name",), f"{label} has different parameters in different accounts; make them agree"
        )
    expected = list(shapes.pop())
    named = any(not p.isdigit() for p in expected)
    takes = ", ".join(f"{{{{{p}}}}}" for p in expected) or "none"
    if len(parameter_names) != len(expected):
        raise MappingError(
            ("parameters",),
            f"{label} takes {len(expected)} body parameters ({takes}),"
            f" {len(parameter_names)} mapped",
        )
    for index, (given, wanted) in enumerate(zip(parameter_names, expected, strict=True)):
        if named and given != wanted:
            raise MappingError(
                ("parameters", index, "name"),
                f"{label} takes named parameters ({takes}) in that order; here {wanted!r}",
            )
        if not named and given is not None:
            raise MappingError(
                ("parameters", index, "name"),
                f"{label} takes positional parameters ({takes}); leave name out",
            )
