"""Campaign lifecycle facts, published by campaign-api."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from disparo_shared.events import limits, subjects
from disparo_shared.events.base import Event
from disparo_shared.followup_plans import FollowupPlan


class CampaignEvent(Event):
    campaign_id: UUID


class CampaignCreated(CampaignEvent):
    subject = subjects.CAMPAIGN_CREATED
    name: str = Field(max_length=limits.NAME)


class CampaignScheduled(CampaignEvent):
    subject = subjects.CAMPAIGN_SCHEDULED
    scheduled_for: datetime


class CampaignSendWindow(BaseModel):
    """When a campaign may send: hours ``start_hour`` ≤ h < ``end_hour`` on ISO ``weekdays``
    (1 = Monday), in ``time_zone``."""

    model_config = ConfigDict(frozen=True)

    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=1, le=24)
    weekdays: list[int] = Field(min_length=1, max_length=7)
    time_zone: str = Field(max_length=limits.CODE)


class CampaignStarted(CampaignEvent):
    """The campaign's audience is fixed and its messages are being requested. Its daily cap and
    send window travel along, so the dispatcher holds them at send time as well; its follow-up
    plan too, so followup applies it to the campaign's conversations (None: the default rules)."""

    subject = subjects.CAMPAIGN_STARTED
    audience_size: int
    max_per_day: int | None = None
    send_window: CampaignSendWindow | None = None
    followups: FollowupPlan | None = None


class CampaignPaused(CampaignEvent):
    subject = subjects.CAMPAIGN_PAUSED


class CampaignResumed(CampaignEvent):
    subject = subjects.CAMPAIGN_RESUMED


class CampaignCancelled(CampaignEvent):
    subject = subjects.CAMPAIGN_CANCELLED


class CampaignCompleted(CampaignEvent):
    subject = subjects.CAMPAIGN_COMPLETED
