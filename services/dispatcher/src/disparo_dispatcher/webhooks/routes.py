"""The webhook endpoints: verify, parse, record in one short transaction, answer 200.

``POST /webhooks/cloud`` (signed with ``X-Hub-Signature-256``), ``GET /webhooks/cloud`` (Meta's
subscription handshake) and ``POST /webhooks/evolution`` (``apikey`` header or body field). The
paths skip the API-key middleware because each proves its sender itself; a bad proof is a 401
problem. The app that mounts ``WEBHOOK_ROUTES`` must provide the ``pool`` dependency (the
service's ``asyncpg.Pool``); settings and the clock have defaults here.
"""

from typing import Annotated, Any

import asyncpg
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
)

from disparo_dispatcher.webhooks.cloud import parse_cloud_webhook
from disparo_dispatcher.webhooks.evolution import parse_evolution_webhook
from disparo_dispatcher.webhooks.parsing import Clock, utc_now
from disparo_dispatcher.webhooks.recording import RecordedWebhook, receive_webhook
from disparo_dispatcher.webhooks.settings import WebhookSettings, load_webhook_settings
from disparo_dispatcher.webhooks.verification import (
    cloud_handshake_challenge,
    cloud_signature_is_valid,
    evolution_key_is_valid,
)
from disparo_shared.logging import get_logger
from disparo_shared.problems import Problem
from disparo_shared.text_input import JsonInputError, loads_json

log = get_logger(__name__)

SIGNATURE_HEADER = "x-hub-signature-256"
WEBHOOK_MAX_DEPTH = 32  # Meta's and Evolution's payloads nest about 8 deep


def _provide_clock() -> Clock:
    return utc_now


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; malformed, empty or too deeply nested is a 400."""
    try:
        payload = loads_json(raw, max_depth=WEBHOOK_MAX_DEPTH)
    except JsonInputError as exc:
        raise Problem(HTTP_400_BAD_REQUEST, "Invalid webhook", f"body: {exc}") from None
    if not isinstance(payload, dict):
        raise Problem(HTTP_400_BAD_REQUEST, "Invalid webhook", "body must be a JSON object")
    return payload


def _invalid_apikey() -> Problem:
    return Problem(HTTP_401_UNAUTHORIZED, "Invalid apikey", "apikey does not match the webhook key")


def _answer(provider: str, recorded: RecordedWebhook) -> Response[dict[str, int]]:
    if recorded.told or recorded.parked:
        log.debug("webhook recorded", provider=provider, told=recorded.told, parked=recorded.parked)
    return Response({"told": recorded.told, "parked": recorded.parked})


class WebhookController(Controller):
    path = "/webhooks"
    tags = ("webhooks",)
    dependencies = {  # noqa: RUF012 (Litestar reads the class attribute)
        "webhook_settings": Provide(load_webhook_settings, sync_to_thread=False),
        "clock": Provide(_provide_clock, sync_to_thread=False),
    }

    @get("/cloud", media_type=MediaType.TEXT, summary="Meta webhook subscription handshake")
    async def cloud_handshake(
        self,
        webhook_settings: WebhookSettings,
        mode: Annotated[str | None, Parameter(query="hub.mode")] = None,
        verify_token: Annotated[str | None, Parameter(query="hub.verify_token")] = None,
        challenge: Annotated[str | None, Parameter(query="hub.challenge")] = None,
    ) -> str:
        """Echo ``hub.challenge`` when ``hub.verify_token`` is ours, so Meta enables the URL."""
        answer = cloud_handshake_challenge(
            webhook_settings.cloud_verify_token, mode, verify_token, challenge
        )
        if answer is None:
            raise Problem(
                HTTP_403_FORBIDDEN, "Verification failed", "hub.verify_token does not match"
            )
        return answer

    @post("/cloud", status_code=HTTP_200_OK, summary="Cloud API statuses and inbound messages")
    async def cloud_webhook(
        self, request: Request, pool: asyncpg.Pool, webhook_settings: WebhookSettings, clock: Clock
    ) -> Response[dict[str, int]]:
        raw = await request.body()
        if not cloud_signature_is_valid(
            webhook_settings.cloud_app_secret, raw, request.headers.get(SIGNATURE_HEADER)
        ):
            raise Problem(
                HTTP_401_UNAUTHORIZED,
                "Invalid signature",
                "X-Hub-Signature-256 does not match the body",
            )
        batch = parse_cloud_webhook(_json_object(raw), clock)
        return _answer("cloud", await receive_webhook(pool, batch, clock()))

    @post(
        "/evolution", status_code=HTTP_200_OK, summary="Evolution API statuses and inbound messages"
    )
    async def evolution_webhook(
        self, request: Request, pool: asyncpg.Pool, webhook_settings: WebhookSettings, clock: Clock
    ) -> Response[dict[str, int]]:
        header_key = request.headers.get("apikey")
        if header_key is not None:  # checked before the body is even parsed
            if not evolution_key_is_valid(webhook_settings.evolution_webhook_key, header_key):
                raise _invalid_apikey()
            payload = _json_object(await request.body())
        else:  # the key travels in the body: only a parsed body says, and a bad one says no
            try:
                payload = _json_object(await request.body())
            except Problem:
                raise _invalid_apikey() from None
            if not evolution_key_is_valid(
                webhook_settings.evolution_webhook_key, payload.get("apikey")
            ):
                raise _invalid_apikey()
        batch = parse_evolution_webhook(payload, clock)
        return _answer("evolution", await receive_webhook(pool, batch, clock()))


WEBHOOK_ROUTES: list = [WebhookController]
