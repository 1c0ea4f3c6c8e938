"""What the shared edge writes into every OpenAPI document beyond Litestar's own."""

from litestar import Litestar, post
from pydantic import BaseModel, ConfigDict

from disparo_shared.openapi_truth import document_closed_models, document_the_edge
from disparo_shared.problems import problem_answers


class ClosedChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: str | None = None


class OpenNote(BaseModel):
    text: str


@post("/v1/requeue", responses=problem_answers({409: "Already requeued."}))
async def requeue(data: ClosedChoice | None = None) -> dict[str, int]:
    return {"requeued": 0}


@post("/v1/notes")
async def note(data: OpenNote) -> dict[str, int]:
    return {"kept": 1}


@post("/webhooks/provider")
async def webhook() -> dict[str, int]:
    return {"told": 0}


def documented() -> dict:
    app = Litestar(route_handlers=[requeue, note, webhook])
    document_the_edge(app.openapi_schema, ["^/webhooks/"])
    document_closed_models(app.openapi_schema)
    return app.openapi_schema.to_schema()


def test_an_optional_body_is_documented_optional_and_a_required_one_required() -> None:
    paths = documented()["paths"]
    assert paths["/v1/requeue"]["post"]["requestBody"]["required"] is False
    assert paths["/v1/notes"]["post"]["requestBody"]["required"] is True


def test_a_model_refusing_unknown_fields_says_so() -> None:
    schemas = documented()["components"]["schemas"]
    assert schemas["ClosedChoice"]["additionalProperties"] is False
    assert "additionalProperties" not in schemas["OpenNote"]


def test_route_problems_and_a_webhooks_400_are_problem_details() -> None:
    paths = documented()["paths"]
    conflict = paths["/v1/requeue"]["post"]["responses"]["409"]
    assert conflict["description"] == "Already requeued."
    assert set(conflict["content"]) == {"application/problem+json"}
    webhook = paths["/webhooks/provider"]["post"]
    assert webhook["security"] == []
    assert set(webhook["responses"]) >= {"400", "401"}
