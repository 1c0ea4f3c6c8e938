"""Settings: the documented environment names, and defaults that work on a laptop."""

import pytest

from disparo_shared.runtime import KernelSettings, Runtime, ServiceSpec
from disparo_shared.settings import (
    DatabaseSettings,
    DeploymentSettings,
    HttpSettings,
    NatsSettings,
    TelemetrySettings,
)

ENV_NAMES = [
    "DATABASE_URL",
    "DISPARO_DB_URL",
    "DISPARO_DB_POOL_MIN_SIZE",
    "DISPARO_DB_POOL_MAX_SIZE",
    "NATS_URL",
    "DISPARO_NATS_URL",
    "DISPARO_NATS_STREAM_PREFIX",
    "DISPARO_NATS_REPLICAS",
    "DISPARO_NATS_DUPLICATE_WINDOW_SECONDS",
    "DISPARO_LOG_LEVEL",
    "DISPARO_LOG_JSON",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "DISPARO_OTLP_ENDPOINT",
    "DISPARO_HTTP_HOST",
    "DISPARO_API_KEYS",
    "DISPARO_HTTP_API_KEYS",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_point_at_local_servers():
    assert DatabaseSettings().url == "postgresql://postgres@127.0.0.1:5432/disparo"
    assert (DatabaseSettings().pool_min_size, DatabaseSettings().pool_max_size) == (1, 10)
    nats_settings = NatsSettings()
    assert nats_settings.url == "nats://127.0.0.1:4222"
    assert nats_settings.stream_prefix == ""
    assert nats_settings.replicas == 1
    assert nats_settings.duplicate_window_seconds == 600
    telemetry = TelemetrySettings()
    assert (telemetry.log_level, telemetry.log_json, telemetry.otlp_endpoint) == (
        "INFO",
        False,
        None,
    )
    assert HttpSettings().host == "127.0.0.1"
    assert HttpSettings().api_keys == []  # no secret has a default (secrets.py)


def test_the_conventional_names_are_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/disparo")
    monkeypatch.setenv("NATS_URL", "nats://nats.internal:4222")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318")

    assert DatabaseSettings().url == "postgresql://db.internal/disparo"
    assert NatsSettings().url == "nats://nats.internal:4222"
    assert TelemetrySettings().otlp_endpoint == "http://otel-collector:4318"


def test_the_prefixed_names_are_read(monkeypatch):
    monkeypatch.setenv("DISPARO_DB_URL", "postgresql://other/disparo")
    monkeypatch.setenv("DISPARO_DB_POOL_MAX_SIZE", "25")
    monkeypatch.setenv("DISPARO_NATS_URL", "nats://other:4222")
    monkeypatch.setenv("DISPARO_NATS_STREAM_PREFIX", "tenant1.")
    monkeypatch.setenv("DISPARO_NATS_REPLICAS", "3")
    monkeypatch.setenv("DISPARO_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("DISPARO_LOG_JSON", "true")
    monkeypatch.setenv("DISPARO_HTTP_HOST", "0.0.0.0")

    assert DatabaseSettings().url == "postgresql://other/disparo"
    assert DatabaseSettings().pool_max_size == 25
    assert NatsSettings().url == "nats://other:4222"
    assert NatsSettings().stream_prefix == "tenant1."
    assert NatsSettings().replicas == 3
    assert TelemetrySettings().log_level == "DEBUG"
    assert TelemetrySettings().log_json is True
    assert HttpSettings().host == "0.0.0.0"


def test_api_keys_are_a_json_list(monkeypatch):
    monkeypatch.setenv("DISPARO_API_KEYS", '["key-a", "key-b"]')

    assert HttpSettings().api_keys == ["key-a", "key-b"]


def test_a_malformed_value_fails_at_start_not_later(monkeypatch):
    monkeypatch.setenv("DISPARO_DB_POOL_MAX_SIZE", "many")

    with pytest.raises(ValueError, match="pool_max_size"):
        DatabaseSettings()


async def test_ready_fails_once_the_drain_file_exists(tmp_path):
    drain_file = tmp_path / "draining"
    settings = KernelSettings(deployment=DeploymentSettings(drain_file=drain_file))
    runtime = Runtime(ServiceSpec("svc", "svc", tmp_path), settings)
    await runtime.check_not_draining()  # ready
    drain_file.touch()  # what the preStop hook does
    with pytest.raises(ConnectionAbortedError):
        await runtime.check_not_draining()
