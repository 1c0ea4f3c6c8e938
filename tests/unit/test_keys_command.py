"""`disparo keys create` prints a key once and the hashed entry a production service accepts."""

import json

from typer.testing import CliRunner

from disparo.cli import app
from disparo_shared.api_keys import KeyRing
from disparo_shared.settings import HttpSettings

PEPPER = "pepper-" + "z" * 40


def test_a_created_key_is_accepted_by_a_production_service_from_its_printed_entry(monkeypatch):
    monkeypatch.setenv("DISPARO_API_KEY_PEPPER", PEPPER)
    result = CliRunner().invoke(
        app, ["keys", "create", "--name", "crm", "--scope", "messages:send"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.split("key (shown once): ")[1].split()[0]
    entry = json.loads(result.output.split("add to DISPARO_API_KEYS: ")[1])
    assert key not in json.dumps(entry)
    ring = KeyRing.from_settings(
        HttpSettings(api_keys=[entry], api_key_pepper=PEPPER), "production"
    )
    found = ring.find(key)
    assert found is not None and found.name == "crm" and found.scopes == {"messages:send"}


def test_without_a_pepper_no_key_is_made(monkeypatch):
    monkeypatch.delenv("DISPARO_API_KEY_PEPPER", raising=False)
    result = CliRunner().invoke(app, ["keys", "create", "--name", "crm", "--scope", "admin"])
    assert result.exit_code == 2
    assert "key (shown once)" not in result.output


def test_a_key_can_be_made_with_an_expiry(monkeypatch):
    monkeypatch.setenv("DISPARO_API_KEY_PEPPER", PEPPER)
    made = CliRunner().invoke(
        app,
        [
            "keys",
            "create",
            "--name",
            "vendor",
            "--scope",
            "read",
            "--expires-at",
            "2027-03-31T00:00Z",
        ],
    )
    assert made.exit_code == 0, made.output
    entry = json.loads(made.output.split("add to DISPARO_API_KEYS: ")[1])
    assert entry["expires_at"].startswith("2027-03-31T00:00:00")
    naive = CliRunner().invoke(
        app,
        ["keys", "create", "--name", "vendor", "--scope", "read", "--expires-at", "2027-03-31"],
    )
    assert naive.exit_code == 2 and "key (shown once)" not in naive.output
