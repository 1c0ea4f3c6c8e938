"""HTTP edge of the messages API: ``POST /v1/messages`` (one message to send, idempotent)."""

import asyncpg
from litestar import Controller, Response, post
from litestar.params import JSONBody

from disparo_campaign_api.dependencies import Pool, Settings
from disparo_campaign_api.idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    IdempotencyKeyHeader,
    require_key,
    run_once,
)
from disparo_campaign_api.messages.requests import SendMessage, request_message
from disparo_shared.events import utc_now
from disparo_shared.problems import problem_answers


class MessagesController(Controller):
    path = "/v1/messages"
    tags = ["messages"]  # noqa: RUF012 - the Litestar idiom
    opt = {"scope": "messages:send"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)

    @post(
        "/",
        status_code=202,
        summary="Request one message",
        responses=problem_answers(
            {
                409: "The phone opted out, or a request with this Idempotency-Key is still in"
                " progress."
            }
        ),
        description=(
            "Accepts a message for the send queue and answers 202 with its id. Requires"
            f" `{IDEMPOTENCY_KEY_HEADER}`: the same key and body give the same answer and"
            " send once; the same key with another body is a 422. A phone that opted out is a 409."
        ),
    )
    async def request_message(
        self,
        data: JSONBody[SendMessage],
        pool: Pool,
        settings: Settings,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[dict[str, str]]:
        key = require_key(idempotency_key)

        async def accept(conn: asyncpg.Connection) -> tuple[int, dict[str, str]]:
            return 202, await request_message(
                conn, data, key, settings.message_max_attempts, utc_now()
            )

        stored = await run_once(
            pool,
            scope="POST /v1/messages",
            key=key,
            request_body=data.model_dump(mode="json"),
            work=accept,
        )
        return stored.to_response()
