"""The caps on event text (``disparo_shared.events.limits``) sit at or above what each HTTP edge
that feeds them accepts: a request the API took with a 2xx must never build an event the bus
then refuses (a refused batch would take a whole campaign chunk with it)."""

from annotated_types import MaxLen
from pydantic import BaseModel

from disparo_campaign_api.campaigns.handlers import CreateCampaign
from disparo_campaign_api.contacts.fields import MAX_TEXT
from disparo_campaign_api.contacts.routes import OptOutRequest
from disparo_campaign_api.idempotency import MAX_KEY_LENGTH
from disparo_campaign_api.messages.requests import CLIENT_KEY_PREFIX, SendMessage
from disparo_followup.routes import Who
from disparo_shared.events import RequestedMessage, limits
from disparo_shared.events.conversations import ConversationControlChanged


def cap(model: type[BaseModel], field: str) -> int:
    (found,) = [m.max_length for m in model.model_fields[field].metadata if isinstance(m, MaxLen)]
    return found


def test_a_message_the_api_accepts_fits_the_requested_event() -> None:
    assert cap(SendMessage, "body") <= cap(RequestedMessage, "body")
    assert len(CLIENT_KEY_PREFIX) + MAX_KEY_LENGTH <= cap(RequestedMessage, "idempotency_key")
    uuid_text = 36
    campaign_key = len("campaign:") + uuid_text + 1 + uuid_text
    assert campaign_key <= cap(RequestedMessage, "idempotency_key")


def test_a_contact_the_api_accepts_fits_every_event_that_carries_it() -> None:
    assert MAX_TEXT <= limits.NAME  # name, specialty, region → contact_name, recipient
    assert cap(RequestedMessage, "contact_name") == limits.NAME
    assert cap(OptOutRequest, "reason") <= limits.REASON


def test_people_acting_over_http_fit_the_events_they_cause() -> None:
    assert cap(Who, "by") <= cap(ConversationControlChanged, "by")
    assert cap(Who, "reason") <= cap(ConversationControlChanged, "reason")
    assert cap(CreateCampaign, "name") <= limits.NAME
