"""What every route of every service answers beyond its own handler, written into its OpenAPI.

Litestar documents what a handler returns; the shared edge adds answers of its own, the same
for every route, and a client (or an OpenAPI-driven test) must find them documented:

- routes in ``open_paths`` (health, readiness, metrics, webhooks, the schema) need no key:
  ``security: []`` says so, overriding the document's global API-key requirement; a provider
  webhook answers 401/403 when its signature, key or verify token does not match;
- every other route answers 401 without a valid ``X-API-Key`` and 403 when the key lacks the
  route's scope;
- every error the edge answers is problem details (``application/problem+json``), so each
  documented 4xx/5xx says so, whatever a handler's decorator assumed;
- a body model that refuses unknown fields says so (``additionalProperties: false``);
- Litestar's automatic ``OPTIONS`` answers are not operations of ours and are left out;
- a route with parameters or a body answers 422 (problem details naming the field) when they
  do not validate, and 400 when the body is not even JSON (a webhook's too: its body is read
  by hand); a body the handler takes as optional (``data: X | None = None``) is documented as
  optional, where Litestar marks it required;
- a route with path parameters answers 404 when a parameter names nothing (or is malformed).

Each service's route-specific answers (a 409, a ``text/csv`` body) stay on its handlers.
"""

import re
from collections.abc import Iterable

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from pydantic import BaseModel

from disparo_shared.problems import MEDIA_TYPE

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem details.",
    required=["status", "title", "detail"],
    properties={
        "status": Schema(type=OpenAPIType.INTEGER),
        "title": Schema(type=OpenAPIType.STRING),
        "detail": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="The fields that failed and why.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "reason": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)
WEBHOOKS_PREFIX = "/webhooks/"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _problem(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={
            MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
        },
    )


def _operations(openapi: OpenAPI) -> Iterable[tuple[str, Operation]]:
    for path, item in (openapi.paths or {}).items():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if operation is not None:
                yield path, operation


def document_the_edge(openapi: OpenAPI, open_paths: Iterable[str]) -> OpenAPI:
    """Add the shared edge's answers to every operation of ``openapi`` (in place)."""
    open_patterns = [re.compile(p) for p in open_paths]
    openapi.components.schemas = {**(openapi.components.schemas or {}), "Problem": PROBLEM_SCHEMA}
    for item in (openapi.paths or {}).values():
        item.options = None
    for path, operation in _operations(openapi):
        responses = operation.responses if operation.responses is not None else {}
        operation.responses = responses
        if any(p.search(path) for p in open_patterns):
            operation.security = []
            if path.startswith(WEBHOOKS_PREFIX):
                responses.setdefault("401", _problem("The signature or key did not verify."))
                responses.setdefault("403", _problem("The verify token did not match."))
                # The body is read by hand (after the signature), so no schema says it.
                responses.setdefault("400", _problem("The body is not a JSON object."))
        else:
            responses.setdefault("401", _problem("Missing or invalid X-API-Key."))
            responses.setdefault("403", _problem("The key lacks this route's scope."))
        parameters = operation.parameters or []
        if parameters or operation.request_body is not None:
            responses.setdefault("422", _problem("A parameter or the body did not validate."))
        if operation.request_body is not None:
            responses.setdefault("400", _problem("The body is not valid JSON."))
            if _body_may_be_left_out(operation.request_body):
                operation.request_body.required = False
        if any(getattr(p, "param_in", None) == "path" for p in parameters):
            responses.setdefault("404", _problem("No resource with that identifier."))
        for status, response in responses.items():
            if status[0] in "45" and isinstance(response, OpenAPIResponse):
                response.content = _problem(response.description).content
    return openapi


def document_closed_models(openapi: OpenAPI) -> None:
    """Say ``additionalProperties: false`` of each model that refuses unknown fields
    (``extra="forbid"``), which Litestar's schemas leave out, so a client (or a generated
    request) learns an unknown field is a 422 rather than ignored.

    Components are named by their model's class name; a name shared with a model that accepts
    unknown fields is left as it is.
    """
    closed: dict[str, bool] = {}
    for model in _models(BaseModel):
        forbids = model.model_config.get("extra") == "forbid"
        closed[model.__name__] = closed.get(model.__name__, True) and forbids
    for name, schema in (openapi.components.schemas or {}).items():
        if closed.get(name) and isinstance(schema, Schema) and schema.properties is not None:
            schema.additional_properties = False


def _models(base: type[BaseModel]) -> Iterable[type[BaseModel]]:
    for model in base.__subclasses__():
        yield model
        yield from _models(model)


def _body_may_be_left_out(body: RequestBody | Reference) -> bool:
    """Whether the handler takes ``data: X | None = None``: Litestar documents such a body as
    required (``oneOf: [X, null]``), though a request without one is served."""
    if not isinstance(body, RequestBody):
        return False
    for media in (body.content or {}).values():
        schema = media.schema
        if isinstance(schema, Schema) and any(
            isinstance(option, Schema) and option.type == OpenAPIType.NULL
            for option in schema.one_of or ()
        ):
            return True
    return False


def document_metrics(openapi: OpenAPI, path: str = "/metrics") -> None:
    """The Prometheus exposition is text, not JSON."""
    item = (openapi.paths or {}).get(path)
    if item is not None and item.get is not None and item.get.responses:
        item.get.responses["200"] = OpenAPIResponse(
            description="Prometheus text exposition format.",
            content={"text/plain": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
        )
