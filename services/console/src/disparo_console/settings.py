"""Typed settings of the console (env prefix ``DISPARO_CONSOLE_``)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """Where the services are, the console's own key, and how long a login lasts."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_CONSOLE_", extra="ignore")

    port: int = Field(8080, description="HTTP port of the console.")
    campaign_api_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of campaign-api (contacts, segments, campaigns).",
    )
    reporting_url: str = Field(
        "http://127.0.0.1:8001", description="Base URL of reporting (funnels, stats, CSV)."
    )
    dispatcher_url: str = Field(
        "http://127.0.0.1:8002",
        description="Base URL of the dispatcher (senders, queue, dead letters).",
    )
    followup_url: str = Field(
        "http://127.0.0.1:8003", description="Base URL of followup (conversations, follow-up job)."
    )
    api_key: SecretStr | None = Field(
        None,
        description="The console's own X-API-Key for the services; no default outside dev/test.",
    )
    service_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one call to a service."
    )
    session_idle_minutes: int = Field(
        60, ge=1, description="A session unused this long ends (sliding)."
    )
    session_max_hours: int = Field(
        12, ge=1, description="A session ends this long after login, used or not."
    )
    secure_cookies: bool = Field(
        True,
        description="Mark cookies Secure (HTTPS only); false only for plain-HTTP dev on localhost.",
    )
    login_window_minutes: int = Field(
        15, ge=1, description="Window in which failed logins are counted."
    )
    login_max_failures_per_user: int = Field(
        5, ge=1, description="Failed logins per user name in the window before logins wait."
    )
    login_max_failures_per_address: int = Field(
        20, ge=1, description="Failed logins per client address in the window before logins wait."
    )
    time_zone: str = Field(
        "America/Sao_Paulo", description="IANA zone every date on the pages is shown in."
    )
    locale: str = Field("pt-BR", description="Catalogue of the interface's text.")
    poll_seconds: int = Field(
        5,
        ge=1,
        description="How often live parts (funnels, panel) refresh while the tab is visible.",
    )
    import_max_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="Largest CSV file the import page accepts."
    )
