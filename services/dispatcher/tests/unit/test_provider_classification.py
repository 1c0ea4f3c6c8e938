"""The classification table and the parsing of provider answers, without a network."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from disparo_dispatcher.providers import cloud, evolution
from disparo_dispatcher.providers.base import Accepted, FailureClass, Rejected
from disparo_dispatcher.providers.classify import (
    GRAPH_CODES,
    classify_graph_error,
    classify_http_status,
)
from disparo_dispatcher.providers.retry_after import MAX_RETRY_AFTER_SECONDS, parse_retry_after
from disparo_dispatcher.providers.transport import ProviderAnswer
from disparo_shared.events import limits

F = FailureClass


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (130429, F.TRANSIENT),
        (80007, F.TRANSIENT),
        (4, F.TRANSIENT),
        (2, F.TRANSIENT),
        (1, F.TRANSIENT),
        (131000, F.TRANSIENT),
        (131016, F.TRANSIENT),
        (131056, F.PAIR_RATE_LIMITED),
        (131048, F.PAUSE_SENDER),
        (131031, F.PAUSE_SENDER),
        (368, F.PAUSE_SENDER),
        (190, F.PAUSE_SENDER),
        (131026, F.PERMANENT),
        (131021, F.PERMANENT),
        (100, F.PERMANENT),
        (131009, F.PERMANENT),
        (131050, F.OPTED_OUT),
        (131047, F.NEEDS_TEMPLATE),
        (470, F.NEEDS_TEMPLATE),
        (131049, F.MARKETING_LIMITED),
        (132000, F.PERMANENT),
        (132001, F.PERMANENT),
        (132005, F.PERMANENT),
        (132007, F.PERMANENT),
        (132012, F.PERMANENT),
        (132015, F.TEMPLATE_STOPPED),
        (132016, F.TEMPLATE_STOPPED),
    ],
)
def test_graph_codes_are_classified_as_documented(code, failure):
    assert GRAPH_CODES[code] is failure
    assert classify_graph_error(400, code) == (failure, str(code))


def test_an_unknown_graph_code_falls_back_to_the_http_status():
    assert classify_graph_error(400, 99999) == (F.PERMANENT, "99999")
    assert classify_graph_error(503, 99999) == (F.TRANSIENT, "99999")
    assert classify_graph_error(502, None) == (F.TRANSIENT, "http_502")


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (500, F.TRANSIENT),
        (503, F.TRANSIENT),
        (429, F.TRANSIENT),
        (408, F.TRANSIENT),
        (401, F.PAUSE_SENDER),
        (403, F.PAUSE_SENDER),
        (404, F.PAUSE_SENDER),
        (400, F.PERMANENT),
        (413, F.PERMANENT),
    ],
)
def test_http_statuses_are_classified(status, failure):
    assert classify_http_status(status) is failure


NOW = datetime(2026, 11, 25, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("999999", MAX_RETRY_AFTER_SECONDS),
        ("Wed, 25 Nov 2026 22:11:30 GMT", 90.0),
        ("Wed, 25 Nov 2026 22:00:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_dates(header, seconds):
    assert parse_retry_after(header, now=lambda: NOW) == seconds


def answer(
    status: int, json: object = None, text: str = "", retry_after: str | None = None
) -> ProviderAnswer:
    """A provider's answer as the transport hands it to the adapters."""
    body = orjson.dumps(json) if json is not None else text.encode()
    return ProviderAnswer(status, body, retry_after)


def graph_error(status: int, code: int, retry_after: str | None = None) -> ProviderAnswer:
    body = {
        "error": {
            "message": f"(#{code}) x",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "why it failed"},
        }
    }
    return answer(status, body, retry_after=retry_after)


def test_cloud_rejection_honours_retry_after():
    result = cloud.classify_response(graph_error(429, 130429, retry_after="7"))
    assert result == Rejected(F.TRANSIENT, "130429", "why it failed", 7.0)


def test_cloud_acceptance_reads_the_message_id():
    response = answer(200, json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.X"}]})
    assert cloud.classify_response(response) == Accepted("wamid.X")


def test_cloud_html_error_page_is_classified_by_status():
    result = cloud.classify_response(answer(502, text="<html>Bad Gateway</html>"))
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (F.TRANSIENT, "http_502")


def test_accepted_without_an_id_is_retried_not_trusted():
    result = cloud.classify_response(answer(200, json={"messages": []}))
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (F.TRANSIENT, "malformed_response")


@pytest.mark.parametrize(
    "classify, accepted",
    [
        (cloud.classify_response, lambda key: {"messages": [{"id": key}]}),
        (evolution.classify_response, lambda key: {"key": {"id": key}}),
    ],
)
def test_an_id_too_long_to_tell_counts_as_no_id(classify, accepted):
    # It would make the message.sent batch that carries it unreadable to every reader.
    longest = "w" * limits.PROVIDER_ID
    assert classify(answer(200, json=accepted(longest))) == Accepted(longest)
    result = classify(answer(200, json=accepted(longest + "w")))
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (F.TRANSIENT, "malformed_response")


def test_evolution_exists_false_is_permanent_and_other_400s_too():
    not_on_whatsapp = answer(
        400,
        json={
            "status": 400,
            "error": "Bad Request",
            "response": {
                "message": [{"exists": False, "jid": "55@s.whatsapp.net", "number": "55"}]
            },
        },
    )
    assert evolution.classify_response(not_on_whatsapp) == Rejected(
        F.PERMANENT, "exists_false", "number is not on WhatsApp"
    )
    other = evolution.classify_response(
        answer(400, json={"status": 400, "response": {"message": ["text is required"]}})
    )
    assert isinstance(other, Rejected)
    assert (other.failure, other.code) == (F.PERMANENT, "http_400")


def test_evolution_missing_instance_pauses_the_sender():
    result = evolution.classify_response(answer(404, json={"status": 404, "error": "Not Found"}))
    assert isinstance(result, Rejected)
    assert (result.failure, result.code) == (F.PAUSE_SENDER, "http_404")


def test_retry_after_date_uses_the_clock():
    later = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=lambda: NOW) == 30.0
