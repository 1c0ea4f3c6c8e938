"""A campaign request gets the spec's defaults unless it says otherwise."""

import pytest
from pydantic import ValidationError

from disparo_campaign_api.campaigns.handlers import CampaignFields, CreateCampaign
from disparo_campaign_api.campaigns.rules import MESSAGE_KIND, Kind
from disparo_shared.events import MessageKind

BASE = {"name": "Plantões", "template": "Olá {nome}", "filter": {"all": []}}


def test_max_per_day_is_50_unless_given_and_null_means_no_cap():
    assert CreateCampaign(**BASE).max_per_day == 50
    assert CreateCampaign(**BASE, max_per_day=300).max_per_day == 300
    assert CreateCampaign.model_validate({**BASE, "max_per_day": None}).max_per_day is None
    with pytest.raises(ValidationError):
        CreateCampaign(**BASE, max_per_day=0)


def test_priority_defaults_to_the_spec_campaign_priority():
    assert CreateCampaign(**BASE).priority == 3


def test_a_patch_changes_max_per_day_only_when_sent():
    assert "max_per_day" not in CampaignFields(name="x").model_fields_set
    assert CampaignFields.model_validate({"max_per_day": None}).model_fields_set == {"max_per_day"}


@pytest.mark.parametrize(
    ("kind", "message_kind"),
    [
        ("campaign", MessageKind.CAMPAIGN),
        ("promotional", MessageKind.CAMPAIGN),
        ("first_contact", MessageKind.FIRST_CONTACT),
        ("followup", MessageKind.FOLLOWUP),
    ],
)
def test_every_kind_says_how_its_messages_travel(kind, message_kind):
    assert MESSAGE_KIND[CreateCampaign(**BASE, kind=kind).kind] == message_kind


def test_unknown_kind_is_refused():
    with pytest.raises(ValidationError):
        CreateCampaign(**BASE, kind="promocional_x")
    assert set(MESSAGE_KIND) == set(Kind)


def test_scheduled_for_needs_an_offset():
    assert CreateCampaign(**BASE).scheduled_for is None
    with pytest.raises(ValidationError):
        CreateCampaign(**BASE, scheduled_for="2026-12-01T10:00:00")
