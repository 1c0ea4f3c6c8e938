"""OpenTelemetry tracing: one provider per process, exported over OTLP only when configured.

The W3C ``traceparent`` crosses every hop: Litestar's middleware reads it from HTTP, the outbox
stores it with each event, FastStream's middleware reads it from NATS headers, and the
dispatcher's provider transport writes it on every call to a provider (the httpx instrumentation
covers other HTTP clients).
"""

from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

from disparo_shared.settings import TelemetrySettings

_exporting = False


def tracing_exported() -> bool:
    """Whether spans leave the process (an OTLP endpoint is configured): a hot loop may skip
    spans of its own when nothing would ever read them."""
    return _exporting


def configure_tracing(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """Install the global tracer provider; silent (no exporter) when no endpoint is set.

    Without an endpoint nothing would ever read a span, so new traces are not recorded
    (``ParentBased(ALWAYS_OFF)``): spans still carry valid ids and ``traceparent`` still crosses
    every hop, but a hot loop (the dispatcher's span per send) no longer pays for attributes and
    span objects nobody exports. A caller's sampled ``traceparent`` is still honoured.
    """
    resource = Resource.create({SERVICE_NAME: service_name})
    if settings.otlp_endpoint:
        provider = TracerProvider(resource=resource)
    else:
        provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    if settings.otlp_endpoint:
        global _exporting
        _exporting = True
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider
