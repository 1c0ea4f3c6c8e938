"""No public default secrets: outside dev and tests a service refuses to start without safe ones."""

import secrets

import pytest

from disparo_shared.dev_secrets import DEV_API_KEY, DEV_ENVIRONMENT, KNOWN_DEV_SECRETS
from disparo_shared.secrets import UnsafeSecrets, require_secrets
from disparo_shared.settings import DeploymentSettings, HttpSettings

STRONG = secrets.token_urlsafe(32)


@pytest.fixture
def no_environment(monkeypatch):
    for name in ("DISPARO_ENV", "DISPARO_API_KEYS", "DISPARO_HTTP_API_KEYS"):
        monkeypatch.delenv(name, raising=False)


def test_without_disparo_env_the_deployment_is_production(no_environment):
    assert DeploymentSettings().env == "production"


def test_no_secret_has_a_default_value(no_environment):
    assert HttpSettings().api_keys == []


def test_production_refuses_a_missing_secret():
    with pytest.raises(UnsafeSecrets, match="DISPARO_API_KEYS.*not set"):
        require_secrets("production", {"DISPARO_API_KEYS": []})
    with pytest.raises(UnsafeSecrets, match="WEBHOOK_KEY.*not set"):
        require_secrets("production", {"WEBHOOK_KEY": ""})


@pytest.mark.parametrize("known", sorted(KNOWN_DEV_SECRETS))
def test_production_refuses_every_value_printed_in_the_repository(known):
    with pytest.raises(UnsafeSecrets, match="known development value"):
        require_secrets("production", {"SOME_SECRET": known})


def test_production_refuses_a_secret_shorter_than_32_bytes():
    with pytest.raises(UnsafeSecrets, match="shorter than 32 bytes"):
        require_secrets("production", {"SOME_SECRET": "x" * 31})
    require_secrets("production", {"SOME_SECRET": "x" * 32})


def test_every_problem_is_named_at_once_and_no_value_is_printed():
    with pytest.raises(UnsafeSecrets) as raised:
        require_secrets("production", {"A": "", "B": ["ok" * 20, "tiny"], "C": DEV_API_KEY})
    message = str(raised.value)
    assert "A" in message and "B" in message and "C" in message
    assert "tiny" not in message and DEV_API_KEY not in message


def test_production_accepts_strong_secrets():
    require_secrets("production", {"DISPARO_API_KEYS": [STRONG], "OTHER": STRONG[::-1]})


@pytest.mark.parametrize("mode", ["dev", "test"])
def test_dev_and_test_accept_the_development_values(mode):
    require_secrets(mode, {"DISPARO_API_KEYS": [DEV_API_KEY], "UNSET": ""})


def test_an_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("DISPARO_ENV", "staging")
    with pytest.raises(ValueError):
        DeploymentSettings()


def test_the_dev_environment_declares_itself_dev():
    assert DEV_ENVIRONMENT["DISPARO_ENV"] == "dev"
    secrets_only = {k: v for k, v in DEV_ENVIRONMENT.items() if "KEY" in k or "SECRET" in k}
    assert set(secrets_only.values()) - {'["' + DEV_API_KEY + '"]'} <= KNOWN_DEV_SECRETS
