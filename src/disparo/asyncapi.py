"""The AsyncAPI 3.0 document of disparo's event bus, generated from the code.

Every message is an event model of ``disparo_shared.events`` (its JSON Schema from pydantic);
every channel is a subject (and the stream that keeps it); who sends a subject comes from each
service's declared ``ServiceSpec.bus.publishes`` (which the closed bus enforces), who receives
it from the FastStream subscribers each service really wires, with their durable names. A
service, event or subscriber added anywhere appears here without touching this module.

``disparo asyncapi --output docs/asyncapi.json`` rewrites the committed copy; a test fails
when it drifts from the code.
"""

import importlib
import json
from fnmatch import fnmatchcase
from typing import Any

from disparo_shared.events import Event
from disparo_shared.events.subjects import STREAM_SUBJECTS
from disparo_shared.runtime import KernelSettings
from disparo_shared.settings import DeploymentSettings, NatsSettings

SERVICES = {
    "campaign-api": ("disparo_campaign_api", "CampaignApiSettings"),
    "dispatcher": ("disparo_dispatcher", "DispatcherSettings"),
    "followup": ("disparo_followup", "FollowupSettings"),
    "reporting": ("disparo_reporting", "ReportingSettings"),
}
"""Each service's package and settings class: its app is built to read its subscribers."""


def event_models() -> dict[str, type[Event]]:
    """Every concrete event (a class with a ``subject``), by each subject it may be published
    on (``messages.requested`` and ``messages.requested.urgent`` are one model)."""
    found: dict[str, type[Event]] = {}
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if "subject" in vars(cls) or hasattr(cls, "subject"):
            found |= dict.fromkeys(cls.every_subject(), cls)
    return dict(sorted(found.items()))


def _nats_pattern(subject: str) -> str:
    """A NATS subject pattern as an fnmatch one (``message.>`` → ``message.*``)."""
    return subject.replace(">", "*")


def _stream_of(subject: str) -> str:
    for stream, patterns in STREAM_SUBJECTS.items():
        if any(fnmatchcase(subject, _nats_pattern(p)) for p in patterns):
            return stream
    return ""


def _relocate_defs(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic's ``$defs`` into ``components.schemas`` (``_point_refs`` fixes the refs)."""
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    return schema


def _point_refs(document: dict[str, Any]) -> dict[str, Any]:
    """Every ``#/$defs/X`` (in payloads and in the moved definitions) → ``components.schemas``."""
    return json.loads(json.dumps(document).replace('"#/$defs/', '"#/components/schemas/'))


def _subject_of(subscriber: Any) -> str:
    """The subject a FastStream subscriber listens on (its address object renders it)."""
    address = subscriber.subject
    return getattr(address, "broker_address", None) or str(address)


def _service_wiring() -> dict[str, dict[str, Any]]:
    """Per service: the subjects it declares it publishes and its (subject, durable) readers."""
    wiring = {}
    for service, (package, settings_name) in SERVICES.items():
        app_module = importlib.import_module(f"{package}.app")
        settings = getattr(importlib.import_module(f"{package}.settings"), settings_name)()
        # Subjects as declared; the apps are built to be read, never served, so they need no
        # secrets (dev mode skips the start-up check that would refuse to build them).
        kernel = KernelSettings(
            nats=NatsSettings(stream_prefix=""), deployment=DeploymentSettings(env="dev")
        )
        runtime = app_module.create_app(kernel, settings).state.runtime
        readers = sorted(
            (_subject_of(subscriber), subscriber.config.durable_name)
            for subscriber in runtime.broker.subscribers
        )
        wiring[service] = {"publishes": sorted(runtime.spec.bus.publishes), "reads": readers}
    return wiring


def asyncapi_document() -> dict[str, Any]:
    models = event_models()
    wiring = _service_wiring()
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for subject, model in models.items():
        name = model.__name__
        payload = _relocate_defs(model.model_json_schema(), schemas)
        messages[name] = {
            "name": name,
            "title": model.subject,
            "summary": (model.__doc__ or "").strip().split("\n\n")[0] or None,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": "The event_id: JetStream drops a republished duplicate.",
                    },
                    "traceparent": {
                        "type": "string",
                        "description": "W3C trace context of the operation that caused it.",
                    },
                },
            },
            "payload": payload,
        }
        channels[subject] = {
            "address": subject,
            "description": f"Kept by the {_stream_of(subject)} stream (name prefixed by "
            "DISPARO_NATS_STREAM_PREFIX).",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
    for service, wires in wiring.items():
        for subject in wires["publishes"]:
            if subject not in channels:
                continue
            operations[f"{service}.sends.{subject}"] = {
                "action": "send",
                "summary": f"{service} publishes {subject} (through its outbox).",
                "channel": {"$ref": f"#/channels/{_escape(subject)}"},
            }
        for pattern, durable in wires["reads"]:
            for subject in channels:
                if fnmatchcase(subject, _nats_pattern(pattern)):
                    operations[f"{durable}.receives.{subject}"] = {
                        "action": "receive",
                        "summary": f"{service} reads {pattern} as durable consumer {durable}.",
                        "channel": {"$ref": f"#/channels/{_escape(subject)}"},
                    }
    return _point_refs(
        {
            "asyncapi": "3.0.0",
            "info": {
                "title": "disparo event bus",
                "version": "1",
                "description": "Facts and the one command (messages.requested) that disparo's "
                "services exchange over NATS JetStream. Every event carries event_id (also the "
                "Nats-Msg-Id), occurred_at and schema_version; consumers are idempotent.",
            },
            "defaultContentType": "application/json",
            "servers": {
                "nats": {
                    "host": "127.0.0.1:4222",
                    "protocol": "nats",
                    "description": "NATS with JetStream (NATS_URL).",
                }
            },
            "channels": {_escape(k): v for k, v in channels.items()},
            "operations": dict(sorted(operations.items())),
            "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
        }
    )


def _escape(subject: str) -> str:
    """A channel key usable in a JSON pointer (``$ref``): dots are fine, ``>`` and ``*`` not."""
    return subject.replace(">", "_all").replace("*", "_any")


def render() -> str:
    return json.dumps(asyncapi_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
