"""Provider error codes → what the queue does about them: the one classification table.

Every rejected send becomes a ``FailureClass``. The rules, in the order they are applied:

1. A Meta Graph error code found in ``GRAPH_CODES`` decides (Cloud API, and any provider that
   speaks Graph errors).
2. Otherwise the HTTP status decides through ``classify_http_status``:
   408, 425, 429 and every 5xx → TRANSIENT (the provider is busy or broken, the message is fine);
   401, 403, 404 → PAUSE_SENDER (credentials revoked, instance gone: no message can leave through
   this number until someone fixes it, so retrying each message would only burn its attempts);
   any other 4xx → PERMANENT (the provider refuses this request as written; sending the same
   bytes again gives the same answer). An unknown Graph code under a 4xx lands here on purpose:
   a dead message keeps its code and can be re-queued, an endless retry loop would hide it.
3. Network outcomes have their own codes: ``timeout`` and ``connection_error`` are TRANSIENT.

Worked example: Cloud answers HTTP 400 with ``{"error": {"code": 131026}}`` → PERMANENT,
code "131026"; HTTP 429 with code 130429 → TRANSIENT; HTTP 400 with code 99999 → PERMANENT,
code "99999"; Evolution HTTP 503 → TRANSIENT, code "http_503".
"""

from disparo_dispatcher.providers.base import FailureClass

T = FailureClass.TRANSIENT
PAIR = FailureClass.PAIR_RATE_LIMITED
PAUSE = FailureClass.PAUSE_SENDER
PERM = FailureClass.PERMANENT
OPTED_OUT = FailureClass.OPTED_OUT
TEMPLATE = FailureClass.NEEDS_TEMPLATE

GRAPH_CODES: dict[int, FailureClass] = {
    # Throughput and availability: the message is fine, try again later.
    1: T,  # API unknown error
    2: T,  # API service temporarily unavailable
    4: T,  # app-level call rate limit
    80007: T,  # WhatsApp Business Account rate limit
    130429: T,  # per-number throughput (Cloud default 80 msg/s)
    131000: T,  # "something went wrong"
    131016: T,  # service unavailable
    133004: T,  # server temporarily unavailable
    # Too many messages to this one recipient: wait for the pair, not for the whole number.
    131056: PAIR,  # (business, consumer) pair rate limit, about 1 message / 6 s
    # The number itself cannot send: stop using it, move its queue to other numbers.
    0: PAUSE,  # AuthException: the app cannot authenticate
    3: PAUSE,  # the app lacks the capability to send
    10: PAUSE,  # permission denied
    190: PAUSE,  # access token expired or invalid
    368: PAUSE,  # temporarily blocked for policy violations
    131031: PAUSE,  # business account locked
    131042: PAUSE,  # business eligibility / payment issue
    131045: PAUSE,  # phone number certificate incorrect
    131048: PAUSE,  # spam rate limit: pushing on gets the number banned
    133010: PAUSE,  # phone number not registered on the Cloud API
    # This message to this recipient will never pass as it is.
    100: PERM,  # invalid parameter
    131008: PERM,  # required parameter missing
    131009: PERM,  # parameter value invalid
    131021: PERM,  # recipient cannot be the sender
    131026: PERM,  # undeliverable (not on WhatsApp, old app, blocked us)
    131051: PERM,  # unsupported message type
    # The template as sent will never pass: fix the campaign's template or its mapping.
    132000: PERM,  # number of parameters does not match the template
    132001: PERM,  # template does not exist in that language (or is not approved)
    132005: PERM,  # filled text too long
    132007: PERM,  # format character policy violated
    132012: PERM,  # parameter format does not match the template
    # The template itself is stopped: this message dies, the campaign's others through it wait.
    132015: FailureClass.TEMPLATE_STOPPED,  # template paused for low quality
    132016: FailureClass.TEMPLATE_STOPPED,  # template disabled
    # Meta's per-user marketing limit: not the doctor's fault and not a retry-now.
    131049: FailureClass.MARKETING_LIMITED,
    # The recipient stopped marketing messages: dead, and the contact is opted out.
    131050: OPTED_OUT,
    # Outside the 24 h customer-service window: only a template can reach them.
    131047: TEMPLATE,  # re-engagement message
    470: TEMPLATE,  # legacy code for the same rule
}

TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429})
PAUSE_HTTP_STATUSES = frozenset({401, 403, 404})

TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
EXISTS_FALSE = "exists_false"


def classify_http_status(status_code: int) -> FailureClass:
    """The class of an HTTP error status when the body names no known code (rule 2)."""
    if status_code >= 500 or status_code in TRANSIENT_HTTP_STATUSES:
        return T
    if status_code in PAUSE_HTTP_STATUSES:
        return PAUSE
    return PERM


def classify_graph_error(status_code: int, graph_code: int | None) -> tuple[FailureClass, str]:
    """Class and code text of a Graph API error: the Graph code first, else the HTTP status.

    ``classify_graph_error(400, 131056)`` → ``(PAIR_RATE_LIMITED, "131056")``;
    ``classify_graph_error(502, None)`` → ``(TRANSIENT, "http_502")``.
    """
    if graph_code is not None and graph_code in GRAPH_CODES:
        return GRAPH_CODES[graph_code], str(graph_code)
    failure = classify_http_status(status_code)
    if graph_code is not None:
        return failure, str(graph_code)
    return failure, f"http_{status_code}"


def graph_code_class(code: str | None) -> FailureClass | None:
    """The class of a Graph code written as text ("131050"), or None when it is not one we know.

    Used for codes that arrive in status webhooks rather than in a send's answer.
    """
    if code is None or not code.isdigit():
        return None
    return GRAPH_CODES.get(int(code))
