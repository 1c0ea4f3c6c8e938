"""Named API keys, stored as keyed hashes, with scopes; clear keys only in dev and tests."""

import pytest

from disparo_shared.api_keys import (
    SCOPES,
    ApiKeyEntry,
    KeyRing,
    generate_api_key,
    hash_api_key,
)
from disparo_shared.secrets import UnsafeSecrets
from disparo_shared.settings import HttpSettings

PEPPER = "p" * 40


def test_a_generated_key_is_found_by_its_keyed_hash_only():
    key = generate_api_key()
    assert len(key) >= 40
    entry = ApiKeyEntry(name="crm", hash=hash_api_key(PEPPER, key), scopes=["messages:send"])
    ring = KeyRing.from_settings(
        HttpSettings(api_keys=[entry], api_key_pepper=PEPPER), "production"
    )
    found = ring.find(key)
    assert found is not None and found.name == "crm" and found.scopes == {"messages:send"}
    assert ring.find(key + "x") is None
    assert ring.find("") is None
    other_pepper = KeyRing.from_settings(
        HttpSettings(api_keys=[entry], api_key_pepper="q" * 40), "production"
    )
    assert other_pepper.find(key) is None


def test_the_hash_is_keyed_by_the_pepper():
    assert hash_api_key("a" * 32, "k") != hash_api_key("b" * 32, "k")


def test_an_unknown_scope_is_refused():
    with pytest.raises(ValueError, match="unknown scope"):
        ApiKeyEntry(name="x", hash="0" * 64, scopes=["everything"])


def test_production_refuses_clear_keys_and_a_weak_pepper():
    with pytest.raises(UnsafeSecrets, match="clear"):
        KeyRing.from_settings(
            HttpSettings(api_keys=["z" * 48], api_key_pepper=PEPPER), "production"
        )
    entry = ApiKeyEntry(name="crm", hash="0" * 64, scopes=["admin"])
    with pytest.raises(UnsafeSecrets, match="DISPARO_API_KEY_PEPPER"):
        KeyRing.from_settings(HttpSettings(api_keys=[entry], api_key_pepper="short"), "production")
    with pytest.raises(UnsafeSecrets, match="DISPARO_API_KEYS is not set"):
        KeyRing.from_settings(HttpSettings(api_keys=[], api_key_pepper=PEPPER), "production")


def test_dev_accepts_a_clear_key_with_every_scope():
    ring = KeyRing.from_settings(HttpSettings(api_keys=["dev-key"]), "dev")
    found = ring.find("dev-key")
    assert found is not None and found.scopes == set(SCOPES)


def test_keys_come_from_the_environment_in_hash_form(monkeypatch):
    monkeypatch.setenv(
        "DISPARO_API_KEYS",
        '[{"name": "console", "hash": "' + "a" * 64 + '", "scopes": ["reports:read"]}]',
    )
    monkeypatch.setenv("DISPARO_API_KEY_PEPPER", PEPPER)
    settings = HttpSettings()
    assert settings.api_keys[0].name == "console"
    assert settings.api_key_pepper == PEPPER


def test_admin_holds_every_scope_but_speaking_for_a_user():
    entry = ApiKeyEntry(name="ops", hash="0" * 64, scopes=["admin"])
    assert entry.grants("campaigns:write") and entry.grants("contacts:phones")
    assert not entry.grants("acting-user")
