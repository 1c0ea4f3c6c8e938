"""Spans of the provider's statuses, each in its message's trace.

A status webhook comes as a request of its own, in no trace of ours: a provider does not echo
the ``traceparent`` of the send. So each fact told about a message (delivered, read, failed)
becomes a ``dispatcher.status`` span under the context kept with the message (its send's span,
else its request's), linked to the span of what brought the status (the webhook's request, or
the resolver of parked statuses), and lasting from the provider's time of the status to its
recording: its length is the webhook's lag. The event telling the fact carries that span's
context, so whoever handles the event (reporting, followup) joins the message's trace.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from opentelemetry import trace

from disparo_dispatcher.webhooks.updates import DeliveryStatus
from disparo_shared.events.base import Event
from disparo_shared.telemetry import context_of, links_to_current, pack_context, tracing_exported

tracer = trace.get_tracer("disparo.dispatcher")

NANOSECONDS = 1_000_000_000


def trace_statuses(
    told: Sequence[tuple[Event, UUID, bytes | None, DeliveryStatus, str, datetime]],
) -> dict[UUID, bytes]:
    """The packed context each told event carries: its status span's, or, when spans are not
    exported here, its message's own; events of untraced messages are absent.

    ``told`` holds, per event: the event, its message id and kept context, the fact, the
    provider and the provider's time of the status.
    """
    traced: dict[UUID, bytes] = {}
    if not any(context is not None for _, _, context, _, _, _ in told):
        return traced
    exported = tracing_exported()
    links = links_to_current() if exported else []
    for event, message_id, context, fact, provider, at in told:
        if context is None:
            continue
        if not exported:
            traced[event.event_id] = context
            continue
        span = tracer.start_span(
            "dispatcher.status",
            context=context_of(context),
            kind=trace.SpanKind.CONSUMER,
            links=links,
            start_time=int(at.timestamp() * NANOSECONDS),
            attributes={
                "messaging.message.id": str(message_id),
                "dispatcher.status": fact.value,
                "dispatcher.provider": provider,
            },
        )
        span.end()
        traced[event.event_id] = pack_context(span.get_span_context()) or context
    return traced
