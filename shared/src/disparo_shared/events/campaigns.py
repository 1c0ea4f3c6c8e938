"""Campaign lifecycle facts, published by campaign-api."""

from datetime import datetime
from uuid import UUID

from disparo_shared.events import subjects
from disparo_shared.events.base import Event


class CampaignEvent(Event):
    campaign_id: UUID


class CampaignCreated(CampaignEvent):
    subject = subjects.CAMPAIGN_CREATED
    name: str


class CampaignScheduled(CampaignEvent):
    subject = subjects.CAMPAIGN_SCHEDULED
    scheduled_for: datetime


class CampaignStarted(CampaignEvent):
    subject = subjects.CAMPAIGN_STARTED
    audience_size: int


class CampaignPaused(CampaignEvent):
    subject = subjects.CAMPAIGN_PAUSED


class CampaignResumed(CampaignEvent):
    subject = subjects.CAMPAIGN_RESUMED


class CampaignCancelled(CampaignEvent):
    subject = subjects.CAMPAIGN_CANCELLED


class CampaignCompleted(CampaignEvent):
    subject = subjects.CAMPAIGN_COMPLETED
