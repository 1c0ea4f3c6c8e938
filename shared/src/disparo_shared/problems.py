"""Errors as RFC 9457 problem details: every 4xx names the field and the reason."""

from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from disparo_shared.logging import get_logger

MEDIA_TYPE = "application/problem+json"
log = get_logger(__name__)


class Problem(HTTPException):
    """Raise from a handler to answer with a problem; ``errors`` lists {field, reason} pairs."""

    def __init__(
        self,
        status_code: int,
        title: str,
        detail: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail or title, headers=headers)
        self.title = title
        self.errors = errors or []


def problem_answers(descriptions: dict[int, str]) -> dict[int, ResponseSpec]:
    """A route's own problem answers for its OpenAPI (``responses=``), e.g.
    ``problem_answers({409: "The id is taken."})``; the edge documents them as problem details."""
    return {
        status: ResponseSpec(data_container=dict[str, Any], description=text)
        for status, text in descriptions.items()
    }


def invalid(field: str, reason: str) -> Problem:
    """The common case: one field is wrong (422)."""
    return Problem(
        HTTP_422_UNPROCESSABLE_ENTITY,
        "Invalid request",
        f"{field}: {reason}",
        errors=[{"field": field, "reason": reason}],
    )


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        {"status": status, **body}, status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def _on_problem(_: Request, exc: Problem) -> Response:
    body: dict[str, Any] = {"title": exc.title, "detail": exc.detail}
    if exc.errors:
        body["errors"] = exc.errors
    return _response(exc.status_code, body, exc.headers)


def _on_validation(_: Request, exc: ValidationException) -> Response:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        source = item.get("source")
        key = item.get("key") or ""
        field = f"{source}.{key}" if source and key else key or str(source or "request")
        errors.append({"field": field, "reason": str(item.get("message", "invalid"))})
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or str(exc.detail)
    return _response(
        HTTP_422_UNPROCESSABLE_ENTITY,
        {"title": "Invalid request", "detail": detail, "errors": errors},
    )


def _on_http(_: Request, exc: HTTPException) -> Response:
    return _response(
        exc.status_code, {"title": str(exc.detail), "detail": str(exc.detail)}, exc.headers
    )


def _on_too_deep(request: Request, exc: RecursionError) -> Response:
    """A body nested past the parser's recursion (msgspec raises RecursionError) is the
    client's fault: a 400, never a 500."""
    log.warning("request nested too deeply", path=request.url.path)
    detail = "the body is nested too deeply to parse"
    return _response(HTTP_400_BAD_REQUEST, {"title": "Invalid request", "detail": detail})


def _on_unstorable_text(request: Request, exc: asyncpg.PostgresError) -> Response:
    """Text Postgres cannot store (a NUL character) that no field check caught: a 422."""
    log.warning("unstorable text", path=request.url.path, error=type(exc).__name__)
    detail = "the request holds a character that cannot be stored (e.g. NUL)"
    return _response(HTTP_422_UNPROCESSABLE_ENTITY, {"title": "Invalid request", "detail": detail})


def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", path=request.url.path)
    return _response(
        HTTP_500_INTERNAL_SERVER_ERROR, {"title": "Internal error", "detail": "Internal error"}
    )


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    ValidationException: _on_validation,
    HTTPException: _on_http,
    RecursionError: _on_too_deep,
    asyncpg.UntranslatableCharacterError: _on_unstorable_text,
    asyncpg.CharacterNotInRepertoireError: _on_unstorable_text,
    Exception: _on_unexpected,
}
