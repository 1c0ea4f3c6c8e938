"""Settings of the webhook endpoints: the secrets each provider proves itself with, and upkeep.

Read from ``DISPARO_DISPATCHER_*`` variables, e.g. ``DISPARO_DISPATCHER_CLOUD_APP_SECRET``.
None has a default: `disparo dev` and the tests set the simulator's values, and a production
dispatcher refuses to start without real ones (``disparo_shared.secrets``).
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """How webhooks are verified and how long their bookkeeping is kept."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_DISPATCHER_", extra="ignore")

    evolution_webhook_key: str = Field(
        "",
        description="The apikey Evolution puts in its webhooks (header or body); others get 401.",
    )
    cloud_app_secret: str = Field(
        "",
        description="Meta app secret; X-Hub-Signature-256 is the HMAC-SHA256 of the body with it.",
    )
    cloud_verify_token: str = Field(
        "",
        description="Token Meta echoes in the GET subscription handshake (hub.verify_token).",
    )
    pending_status_ttl_seconds: float = Field(
        3600.0,
        gt=0,
        description="How long a status whose message we do not know yet waits for it (then dropped:"
        " it belongs to a send made outside disparo, e.g. by hand from the same number).",
    )
    pending_resolve_interval_seconds: float = Field(
        1.0, gt=0, description="How often waiting statuses are matched to newly sent messages."
    )
    receipt_retention_days: int = Field(
        14,
        ge=8,
        description="Days inbound-message receipts are kept for de-duplication; Meta"
        " retries a webhook for up to 7 days, so anything shorter could tell a fact twice.",
    )

    def secrets(self) -> dict[str, str]:
        """The secrets by variable name, for the start-up check."""
        return {
            "DISPARO_DISPATCHER_EVOLUTION_WEBHOOK_KEY": self.evolution_webhook_key,
            "DISPARO_DISPATCHER_CLOUD_APP_SECRET": self.cloud_app_secret,
            "DISPARO_DISPATCHER_CLOUD_VERIFY_TOKEN": self.cloud_verify_token,
        }


@lru_cache(maxsize=1)
def load_webhook_settings() -> WebhookSettings:
    """The process's webhook settings, read from the environment once."""
    return WebhookSettings()
