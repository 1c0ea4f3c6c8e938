"""Typed settings of segments and campaigns (env prefix ``DISPARO_CAMPAIGN_API_``).

Read beside ``CampaignApiSettings`` (same prefix, disjoint names); the scheduler's period, the
fan-out chunk and the attempts per message stay there.
"""

from datetime import timedelta
from functools import lru_cache

from litestar.di import NamedDependency
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo_campaign_api.campaigns.templates import DEFAULT_FALLBACKS


class CampaignSettings(BaseSettings):
    """Previews' capacity assumption, the campaigns' clock zone and template fallbacks."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_CAMPAIGN_API_", extra="ignore")

    assumed_send_rate_per_second: float = Field(
        80.0,
        gt=0,
        description=(
            "Messages per second the sender fleet is assumed to sustain, for preview estimates"
            " only (senders × per-sender rate, e.g. 50 × 80 = 4000); the dispatcher decides."
        ),
    )
    campaign_time_zone: str = Field(
        "America/Sao_Paulo",
        description="Zone of campaigns' send windows and of the per-day spread of max_per_day.",
    )
    template_fallbacks: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_FALLBACKS),
        description=(
            'Text used when a placeholder has no value (JSON object), e.g. {"nome": "Dr(a).",'
            ' "attr.hospital": "nosso hospital"}; placeholders not listed become empty.'
        ),
    )
    followup_min_delay_seconds: int = Field(
        1800,
        ge=1,
        description=(
            "Shortest delay a campaign's own follow-up plan may ask for (30 minutes; see"
            " disparo_shared.followup_plans). Test stacks lower it to try a plan in seconds."
        ),
    )

    @property
    def followup_min_delay(self) -> timedelta:
        return timedelta(seconds=self.followup_min_delay_seconds)


@lru_cache(maxsize=1)
def campaign_settings() -> CampaignSettings:
    """The process's settings, read once."""
    return CampaignSettings()


CampaignConfig = NamedDependency[CampaignSettings]
"""Declare ``campaign_config: CampaignConfig`` on a handler of a controller that provides it."""
