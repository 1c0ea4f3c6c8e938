"""OpenTelemetry tracing: one provider per process, exported over OTLP only when configured.

The W3C ``traceparent`` crosses every hop: Litestar's middleware reads it from HTTP, the outbox
stores it with each event, FastStream's middleware reads it from NATS headers, and the dispatcher's provider transport
writes it on every call to a provider (the httpx instrumentation covers other HTTP clients).
"""

from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from disparo_shared.settings import TelemetrySettings


def configure_tracing(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """Install the global tracer provider; silent (no exporter) when no endpoint is set."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider
