"""The spans a test's services record, in memory, whichever service installed tracing first.

A process has one tracer provider (``telemetry.configure_tracing``), and the first service
started in a test process, or this fixture, installs it; it cannot be replaced later. So the
fixture does not bring a provider of its own: it attaches, once per process, a processor that
hands each ended span to the current test's ``InMemorySpanExporter``, and to nobody between
tests. Spans are recorded only in a sampled trace (no collector is configured in tests: new
traces are not sampled), so a test starts its own sampled trace and filters by its trace id.
"""

from collections.abc import Iterator

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from disparo_shared.settings import TelemetrySettings
from disparo_shared.telemetry import configure_tracing, export_spans


class _ToCurrentTest(SpanProcessor):
    """Hands ended spans to the exporter of the test running now, if any."""

    def __init__(self) -> None:
        self.exporter: InMemorySpanExporter | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        exporter = self.exporter
        if exporter is not None:
            exporter.export([span])


_processor: _ToCurrentTest | None = None


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """The spans ended during this test (services in other threads included)."""
    global _processor
    if _processor is None:
        provider = configure_tracing("tests", TelemetrySettings(otlp_endpoint=None))
        _processor = _ToCurrentTest()
        export_spans(provider, _processor)
    exporter = InMemorySpanExporter()
    _processor.exporter = exporter
    try:
        yield exporter
    finally:
        _processor.exporter = None
