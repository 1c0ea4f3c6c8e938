"""The committed AsyncAPI document is exactly what the code generates: it cannot drift from the
event models, the subjects or who publishes and reads them."""

import json
from pathlib import Path

from disparo.asyncapi import asyncapi_document, event_models

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
REGENERATE = "regenerate it: `disparo asyncapi --output docs/asyncapi.json`"


def test_the_committed_asyncapi_document_matches_the_code() -> None:
    committed = json.loads(COMMITTED.read_text())
    generated = asyncapi_document()
    for part in ("channels", "operations"):
        assert sorted(committed[part]) == sorted(generated[part]), f"{part} drifted; {REGENERATE}"
    assert committed == generated, f"docs/asyncapi.json drifted from the event models; {REGENERATE}"


def test_every_event_is_a_channel_with_its_schema() -> None:
    document = asyncapi_document()
    for subject, model in event_models().items():
        channel = document["channels"][subject]
        [message_ref] = channel["messages"].values()
        message = document["components"]["messages"][model.__name__]
        assert message_ref["$ref"] == f"#/components/messages/{model.__name__}"
        assert set(message["payload"]["properties"]) >= {"event_id", "occurred_at"}
    for operation in document["operations"].values():
        assert operation["channel"]["$ref"].removeprefix("#/channels/") in document["channels"]
    text = json.dumps(document)
    assert "#/$defs/" not in text  # every nested model is under components.schemas
