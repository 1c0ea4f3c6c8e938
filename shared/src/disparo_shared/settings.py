"""Typed settings of the kernel, one class per concern, read from the environment.

Every field has a default that works on a laptop, except secrets: they have none, and outside
``DISPARO_ENV=dev``/``test`` a service refuses to start without them (``secrets.py``). Services
compose these classes into their own settings; nothing else in the code base reads ``os.environ``.
"""

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo_shared.api_keys import ApiKeyEntry
from disparo_shared.secrets import DeploymentMode


class DeploymentSettings(BaseSettings):
    """Where the process runs; decides whether unsafe secrets stop it (``secrets.py``)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: DeploymentMode = Field(
        "production",
        validation_alias=AliasChoices("DISPARO_ENV", "env"),
        description="production (default), dev (set by `disparo dev` and benchmarks) or test"
        " (set by the test fixtures); only dev and test run with missing or public secrets.",
    )
    stop_seconds: float = Field(
        20.0,
        gt=0,
        validation_alias=AliasChoices("DISPARO_STOP_SECONDS", "stop_seconds"),
        description="Upper bound of a service's stop after SIGTERM: in-flight HTTP requests, "
        "then workers (drain sends, flush results, give leases back), broker, NATS and pool; "
        "what overruns is abandoned (leases and unacked events pass to others). Keep it below "
        "Kubernetes' terminationGracePeriodSeconds minus the preStop pause.",
    )
    drain_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("DISPARO_DRAIN_FILE", "drain_file"),
        description="When this file exists, /ready answers 503: Kubernetes' preStop creates it, "
        "so the pod leaves the load balancer before SIGTERM starts the stop. Unset: no drain.",
    )


class DatabaseSettings(BaseSettings):
    """Where Postgres is and how large each service's pool may grow."""

    model_config = SettingsConfigDict(
        env_prefix="DISPARO_DB_", extra="ignore", populate_by_name=True
    )

    url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/disparo",
        validation_alias=AliasChoices("DATABASE_URL", "DISPARO_DB_URL"),
        description="libpq URL of the Postgres database shared by all services (one schema each).",
    )
    pool_min_size: int = Field(1, description="Connections opened at start.")
    pool_max_size: int = Field(10, description="Upper bound of pooled connections per process.")
    acquire_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest wait for a pooled connection; past it the caller fails (a timeout) "
        "instead of queueing forever behind a stuck holder.",
    )
    statement_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description="Postgres statement_timeout of every pooled connection: the longest "
        "statement allowed (a million-recipient campaign start takes a few seconds).",
    )
    idle_in_transaction_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="Postgres idle_in_transaction_session_timeout: a transaction left open "
        "this long (a stuck holder) is ended by the server and its locks released.",
    )
    jit: bool = Field(
        False,
        description="Postgres JIT compilation for the pool's statements. Off: every statement "
        "here is a short one run again and again, and JIT compiles anew on each run once a "
        "plan's estimated cost passes jit_above_cost. The send queue's claim crosses it at a "
        "backlog of ~1.4 million and then spent 40-150 ms a claim compiling.",
    )
    phone_digest_key: str = Field(
        "",
        validation_alias=AliasChoices("DISPARO_PHONE_DIGEST_KEY", "phone_digest_key"),
        description="Secret key of the erased phones' digests (HMAC-SHA256, phone_digests.py); "
        "the same in the dispatcher, followup and reporting, and never changed once set.",
    )
    migrate_at_start: bool = Field(
        True,
        description="Apply the service's migrations at start; off where its Postgres role may "
        "not change the schema (the migration Job's role does).",
    )


class NatsSettings(BaseSettings):
    """Where NATS JetStream is and how streams are sized."""

    model_config = SettingsConfigDict(
        env_prefix="DISPARO_NATS_", extra="ignore", populate_by_name=True
    )

    url: str = Field(
        "nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "DISPARO_NATS_URL"),
        description="NATS server URL (comma separated for a cluster).",
    )
    stream_prefix: str = Field(
        "",
        description="Prefix of stream and subject names; lets tests and tenants share one server.",
    )
    replicas: int = Field(
        1, description="JetStream replicas per stream (3 on a production cluster)."
    )
    duplicate_window_seconds: int = Field(
        600,
        description="How long JetStream remembers a Nats-Msg-Id; bounds the outbox relay's replay.",
    )
    max_age_days: float = Field(
        30,
        gt=0,
        description="How long the streams keep an event (phones and message texts included): "
        "the span a rebuild can replay, and the bus's LGPD retention.",
    )
    user: str | None = Field(
        None,
        description="NATS user of this process (one per service, see `disparo nats-config`); "
        "unset means an open server.",
    )
    password: SecretStr | None = Field(None, description="Password of the NATS user.")
    nkey_seed_file: Path | None = Field(
        None,
        description="File holding this process's NKey seed, instead of a password (the user "
        "then only names its reply inbox).",
    )
    tls_ca_file: Path | None = Field(
        None, description="CA bundle that signed the NATS server's certificate; set means TLS."
    )
    tls_cert_file: Path | None = Field(
        None, description="Client certificate, when the server verifies clients (mutual TLS)."
    )
    tls_key_file: Path | None = Field(None, description="Private key of the client certificate.")
    max_deliveries: int = Field(
        20,
        ge=1,
        description="Deliveries of one event to a consumer whose handler keeps failing before "
        "it is dead-lettered (dead_letter.<subject>) instead of redelivered again.",
    )
    manage_streams: bool = Field(
        True,
        description="Create or update the streams at start; off where only the migration Job's "
        "NATS user may (a closed bus).",
    )


class TelemetrySettings(BaseSettings):
    """Logging and tracing; tracing exports over OTLP only when an endpoint is set."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_", extra="ignore", populate_by_name=True)

    log_level: str = Field("INFO", description="Root log level.")
    log_json: bool = Field(False, description="JSON log lines (production) instead of console.")
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "DISPARO_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector, e.g. http://otel-collector:4318; unset means no export.",
    )
    kernel_metrics_interval_seconds: float = Field(
        15.0,
        gt=0,
        description="How often the outbox and consumer gauges are refreshed (one count, one "
        "JetStream call per stream).",
    )


class HttpSettings(BaseSettings):
    """The HTTP edge of a service."""

    model_config = SettingsConfigDict(
        env_prefix="DISPARO_HTTP_", extra="ignore", populate_by_name=True
    )

    host: str = Field("127.0.0.1", description="Interface to bind.")
    metrics_port: int | None = Field(
        None,
        description="Also serve Prometheus /metrics on this port of its own (Kubernetes: only "
        "the monitoring namespace may reach it); unset means on the service's port only.",
    )
    api_keys: list[ApiKeyEntry | str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("DISPARO_API_KEYS", "DISPARO_HTTP_API_KEYS", "api_keys"),
        description="Accepted X-API-Key keys, JSON list of {name, hash, scopes} (`disparo keys"
        " create`); a plain string is a clear key with every scope, in dev and tests only."
        " None by default, so nothing is accepted. Health is always open.",
    )
    api_key_pepper: str = Field(
        "",
        validation_alias=AliasChoices("DISPARO_API_KEY_PEPPER", "api_key_pepper"),
        description="Secret key of the API-key hashes (HMAC-SHA256); the same in every service.",
    )
