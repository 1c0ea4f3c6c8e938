"""The services that remember erased phones refuse to run in production on a missing, public or
short DISPARO_PHONE_DIGEST_KEY, like every other secret; campaign-api does not need it."""

import pytest

from disparo_campaign_api.app import create_app as campaign_api_app
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_dispatcher.app import create_app as dispatcher_app
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.webhooks.settings import WebhookSettings
from disparo_followup.app import create_app as followup_app
from disparo_followup.settings import FollowupSettings
from disparo_reporting.app import create_app as reporting_app
from disparo_reporting.settings import ReportingSettings
from disparo_shared.dev_secrets import DEV_PHONE_DIGEST_KEY
from disparo_shared.runtime import KernelSettings
from disparo_shared.secrets import UnsafeSecrets
from disparo_shared.settings import DatabaseSettings, DeploymentSettings, HttpSettings

STRONG = "s" * 40
APPS = {
    "dispatcher": lambda k: dispatcher_app(
        k,
        DispatcherSettings(),
        webhook_settings=WebhookSettings(
            evolution_webhook_key=STRONG, cloud_app_secret=STRONG, cloud_verify_token=STRONG
        ),
        environ={},
    ),
    "followup": lambda k: followup_app(k, FollowupSettings(), run_daily_job=False),
    "reporting": lambda k: reporting_app(k, ReportingSettings()),
}


def _production(phone_digest_key: str) -> KernelSettings:
    return KernelSettings(
        deployment=DeploymentSettings(env="production"),
        http=HttpSettings(api_keys=[]),
        database=DatabaseSettings(phone_digest_key=phone_digest_key),
    )


@pytest.mark.parametrize("service", sorted(APPS))
@pytest.mark.parametrize(
    ("key", "reason"),
    [("", "is not set"), (DEV_PHONE_DIGEST_KEY, "known development value"), ("k" * 31, "32")],
)
def test_production_refuses_an_unsafe_phone_digest_key(service, key, reason):
    with pytest.raises(UnsafeSecrets, match=f"DISPARO_PHONE_DIGEST_KEY [^;]*{reason}"):
        APPS[service](_production(key))


def test_campaign_api_does_not_ask_for_the_phone_digest_key():
    try:
        campaign_api_app(_production(""), CampaignApiSettings())
    except UnsafeSecrets as refused:
        assert "DISPARO_PHONE_DIGEST_KEY" not in str(refused)
