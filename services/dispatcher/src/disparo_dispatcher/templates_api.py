"""The template registry over HTTP: list it, sync it from the provider, check a mapping.

``GET /v1/templates`` lists (``waba_id``, ``name``, ``language`` filter); ``POST
/v1/templates/sync`` fetches every Cloud account's templates now (``waba_id`` for one), and a
provider that cannot be reached is a 502 naming it. Campaign-api calls ``GET /v1/templates`` at
campaign creation to check that a template exists, is approved and takes the parameters mapped.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from litestar import Router, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_502_BAD_GATEWAY

from disparo_dispatcher import templates
from disparo_dispatcher.senders import MissingCredential
from disparo_shared.problems import Problem
from disparo_shared.runtime import Runtime

SYNC_TIMEOUT_SECONDS = 30


def templates_router(runtime: Runtime, clock: Callable[[], datetime]) -> Router:
    @get("/templates")
    async def list_templates(
        waba_id: str | None = None, name: str | None = None, language: str | None = None
    ) -> list[dict[str, Any]]:
        """The registry (every Cloud account's templates, or one account's), as last synced."""
        async with runtime.pool.acquire() as conn:
            rows = await templates.list_templates(conn, waba_id)
        return [
            templates.template_json(row)
            for row in rows
            if (name is None or row["name"] == name)
            and (language is None or row["language"] == language)
        ]

    @post("/templates/sync", status_code=HTTP_200_OK)
    async def sync(waba_id: str | None = None) -> dict[str, Any]:
        """Fetch the templates of every Cloud account (or ``waba_id``'s) from the provider now."""
        timeout = aiohttp.ClientTimeout(total=SYNC_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                synced = await templates.sync_accounts(runtime.pool, http, clock(), waba_id)
        except (aiohttp.ClientError, TimeoutError, ValueError, MissingCredential) as exc:
            raise Problem(
                HTTP_502_BAD_GATEWAY, "Template sync failed", f"the provider answered: {exc}"
            ) from exc
        return {"synced": synced}

    return Router(path="/v1", route_handlers=[list_templates, sync])
