"""The HTTP plumbing every service client shares: key, acting user, problem details."""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

ACTING_USER_HEADER = "X-Acting-User"
ACTING_ROLE_HEADER = "X-Acting-Role"


@dataclass
class ApiError(Exception):
    """A service answered 4xx/5xx; ``errors`` are its {field, reason} pairs."""

    service: str
    status: int
    title: str
    detail: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.service} answered {self.status}: {self.detail or self.title}"


class ServiceUnavailable(Exception):
    """A service did not answer (down, refused, timed out)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} did not answer: {reason}")
        self.service = service


@dataclass(frozen=True)
class ServiceClient:
    """Calls to one service on behalf of one user."""

    service: str
    http: httpx.AsyncClient
    actor: Mapping[str, str]

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: Any = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty body); raises ApiError/ServiceUnavailable."""
        try:
            answer = await self.http.request(
                method,
                path,
                json=json,
                params=params,
                content=content,
                headers={**self.actor, **(headers or {})},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(self.service, type(exc).__name__) from exc
        if answer.status_code >= 400:
            raise _problem(self.service, answer)
        return answer.json() if answer.content else None

    async def stream(self, path: str) -> AsyncIterator[bytes]:
        """The body of a GET, chunk by chunk (CSV downloads)."""
        try:
            async with self.http.stream("GET", path, headers=dict(self.actor)) as answer:
                if answer.status_code >= 400:
                    await answer.aread()
                    raise _problem(self.service, answer)
                async for chunk in answer.aiter_bytes():
                    yield chunk
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(self.service, type(exc).__name__) from exc


def _problem(service: str, answer: httpx.Response) -> ApiError:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(
        service=service,
        status=answer.status_code,
        title=str(body.get("title") or answer.reason_phrase),
        detail=body.get("detail"),
        errors=[e for e in body.get("errors") or [] if isinstance(e, dict)],
    )
