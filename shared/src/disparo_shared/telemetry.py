"""OpenTelemetry tracing: one provider per process, exported over OTLP only when configured.

The W3C ``traceparent`` crosses every hop: Litestar's middleware reads it from HTTP, the outbox
stores it with each event, FastStream's middleware reads it from NATS headers, and the
dispatcher's provider transport writes it on every call to a provider (the httpx instrumentation
covers other HTTP clients). Where a message waits in a table rather than on a wire (the
dispatcher's queue), its context is kept with it, packed (``pack_context``), and the spans that
work on it later descend from it (``context_of``).
"""

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags

from disparo_shared.settings import TelemetrySettings

_exporting = False

PACKED_CONTEXT_BYTES = 24  # trace id (16) and span id (8); only sampled contexts are packed


def tracing_exported() -> bool:
    """Whether spans leave the process (an exporter is attached): a hot loop may skip spans of
    its own when nothing would ever read them."""
    return _exporting


def configure_tracing(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """The process's tracer provider, installed as the global one by the first call.

    Without an endpoint nothing would ever read a span, so new traces are not recorded
    (``ParentBased(ALWAYS_OFF)``): spans still carry valid ids and ``traceparent`` still crosses
    every hop, but a hot loop (the dispatcher's span per send) no longer pays for attributes and
    span objects nobody exports. A caller's sampled ``traceparent`` is still honoured.

    A process runs one service, so the first call decides the resource and the sampler; a later
    call (several services in one test process) gets the same provider instead of trying to
    replace it, which OpenTelemetry refuses ("Overriding of current TracerProvider is not
    allowed") while the earlier one stays in use. Every service's spans then go through the
    same processors, whichever service started first.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        resource = Resource.create({SERVICE_NAME: service_name})
        if settings.otlp_endpoint:
            provider = TracerProvider(resource=resource)
        else:
            provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
        trace.set_tracer_provider(provider)
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    if settings.otlp_endpoint and not _exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        export_spans(provider, BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def export_spans(provider: TracerProvider, processor: SpanProcessor) -> None:
    """Send the spans ``provider`` records to ``processor`` (an OTLP exporter, or a test's
    in-memory one), and let the hot loops make their spans from now on."""
    global _exporting
    provider.add_span_processor(processor)
    _exporting = True


def pack_context(span_context: SpanContext) -> bytes | None:
    """A sampled span's context as 24 bytes (trace id, span id), for a row that waits in a
    table; None for a context nobody records, so an untraced row costs nothing.

    Trace state and flags are not kept: a packed context is always a sampled one.
    """
    if not (span_context.is_valid and span_context.trace_flags.sampled):
        return None
    return span_context.trace_id.to_bytes(16, "big") + span_context.span_id.to_bytes(8, "big")


def unpack_context(packed: bytes) -> SpanContext:
    """The span context ``pack_context`` packed, as a remote, sampled parent."""
    return SpanContext(
        trace_id=int.from_bytes(packed[:16], "big"),
        span_id=int.from_bytes(packed[16:PACKED_CONTEXT_BYTES], "big"),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def context_of(packed: bytes | None) -> Context | None:
    """A context whose span is the packed one, to start a child span in; None for no parent."""
    if packed is None:
        return None
    return trace.set_span_in_context(NonRecordingSpan(unpack_context(packed)))


def traceparent_of(packed: bytes) -> str:
    """The W3C ``traceparent`` header of a packed context (e.g. for an event's headers)."""
    return f"00-{packed[:16].hex()}-{packed[16:PACKED_CONTEXT_BYTES].hex()}-01"


def links_to_current() -> Sequence[Link]:
    """A link to the current span, when there is one: a span started under another parent (a
    webhook's status, under its message's send) keeps the way back to what it ran in."""
    current = trace.get_current_span().get_span_context()
    return [Link(current)] if current.is_valid else []
