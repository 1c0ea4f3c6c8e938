"""An empty webhook secret never verifies anything, and production refuses to start without one."""

import pytest

from disparo_dispatcher.app import create_app
from disparo_dispatcher.settings import DispatcherSettings
from disparo_dispatcher.webhooks.settings import WebhookSettings
from disparo_dispatcher.webhooks.verification import (
    cloud_handshake_challenge,
    cloud_signature,
    cloud_signature_is_valid,
    evolution_key_is_valid,
)
from disparo_shared.runtime import KernelSettings
from disparo_shared.secrets import UnsafeSecrets
from disparo_shared.settings import DeploymentSettings, HttpSettings

WEBHOOK_VARIABLES = (
    "DISPARO_DISPATCHER_EVOLUTION_WEBHOOK_KEY",
    "DISPARO_DISPATCHER_CLOUD_APP_SECRET",
    "DISPARO_DISPATCHER_CLOUD_VERIFY_TOKEN",
)


def test_an_empty_evolution_key_verifies_nothing():
    assert not evolution_key_is_valid("", "", None)


def test_an_empty_app_secret_verifies_no_signature():
    body = b'{"entry": []}'
    assert not cloud_signature_is_valid("", body, cloud_signature("", body))


def test_an_empty_verify_token_answers_no_handshake():
    assert cloud_handshake_challenge("", "subscribe", "", "42") is None


def test_webhook_secrets_have_no_default(monkeypatch):
    for name in WEBHOOK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = WebhookSettings()
    assert (
        settings.evolution_webhook_key,
        settings.cloud_app_secret,
        settings.cloud_verify_token,
    ) == ("", "", "")


def test_production_dispatcher_refuses_to_start_without_webhook_secrets(monkeypatch):
    for name in WEBHOOK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    kernel = KernelSettings(
        deployment=DeploymentSettings(env="production"),
        http=HttpSettings(api_keys=["k" * 40]),
    )
    with pytest.raises(UnsafeSecrets) as raised:
        create_app(kernel, DispatcherSettings(), webhook_settings=WebhookSettings())
    for name in WEBHOOK_VARIABLES:
        assert name in str(raised.value)


def test_production_dispatcher_refuses_to_start_without_its_declared_provider_tokens():
    kernel = KernelSettings(
        deployment=DeploymentSettings(env="production"),
        http=HttpSettings(api_keys=["k" * 40]),
    )
    strong = WebhookSettings(
        evolution_webhook_key="e" * 40, cloud_app_secret="a" * 40, cloud_verify_token="v" * 40
    )
    settings = DispatcherSettings(credential_variables=["EVOLUTION_RECIFE_KEY"])
    with pytest.raises(UnsafeSecrets, match="EVOLUTION_RECIFE_KEY is not set"):
        create_app(kernel, settings, webhook_settings=strong, environ={})
