"""Typed settings of campaign-api (env prefix ``DISPARO_CAMPAIGN_API_``), beside the kernel's."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_OPT_OUT_PHRASES = [
    "parar",
    "pare",
    "para de mandar",
    "parar de enviar",
    "sair",
    "quero sair",
    "stop",
    "cancelar",
    "descadastrar",
    "descadastre",
    "remover",
    "me remova",
    "me remove",
    "me tire da lista",
    "me tira da lista",
    "nao quero mais",
    "nao quero mais receber",
    "nao quero receber",
    "nao quero mais mensagens",
    "nao envie mais",
    "nao me mande mais",
    "unsubscribe",
]


class CampaignApiSettings(BaseSettings):
    """Everything campaign-api reads from the environment besides the kernel's settings."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_CAMPAIGN_API_", extra="ignore")

    port: int = Field(8000, description="HTTP port of the public API.")
    opt_out_phrases: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OPT_OUT_PHRASES),
        description=(
            "Inbound messages that opt the sender out (JSON list). Compared after normalisation"
            " (case, accents, punctuation), so 'NÃO QUERO MAIS!' matches 'nao quero mais'."
        ),
    )
    message_max_attempts: int = Field(
        5,
        ge=1,
        le=50,
        description="Send attempts the dispatcher may make for a message requested here.",
    )
    import_batch_size: int = Field(
        5000, ge=1, le=50_000, description="Contacts upserted per statement by the bulk import."
    )
    import_writers: int = Field(
        2,
        ge=1,
        le=8,
        description="Connections one import writes through in parallel (one core each).",
    )
    import_max_listed_errors: int = Field(
        1000, ge=0, description="Invalid rows listed in an import's answer (all are counted)."
    )
    import_max_concurrent: int = Field(
        2,
        ge=1,
        description="Bulk imports one process runs at once; more are answered 429 with "
        "Retry-After (each writes through import_writers connections).",
    )
    import_max_body_bytes: int = Field(
        2 * 1024**3, description="Largest import body accepted, in bytes (2 GiB ≈ 15 M contacts)."
    )
    import_max_row_bytes: int = Field(
        1024**2, description="Largest single CSV record or JSON object in an import, in bytes."
    )
    page_max_limit: int = Field(500, ge=1, description="Upper bound of ?limit= on list endpoints.")
    scheduler_poll_seconds: float = Field(
        5.0, gt=0, description="How often the scheduler looks for due campaigns."
    )
    fanout_batch_size: int = Field(
        5000, ge=1, description="Recipients per messages.requested event and per fan-out statement."
    )
    idempotency_retention_hours: int = Field(
        168,
        ge=1,
        description="How long an Idempotency-Key is remembered (a retry after that is new).",
    )
    housekeeping_interval_seconds: float = Field(
        3600.0,
        gt=0,
        description="Pause between prunings of expired idempotency keys and inbox ids.",
    )
    dispatcher_url: str = Field(
        "http://127.0.0.1:8002",
        description="Base URL of the dispatcher, asked at campaign create/edit whether a named"
        " Cloud API template exists, is approved and takes the parameters mapped.",
    )
    dispatcher_api_key: SecretStr | None = Field(
        None,
        description="campaign-api's own X-API-Key for the dispatcher (the read scope is enough);"
        " unset: a campaign naming a Cloud template is answered 503, never accepted unchecked.",
    )
    dispatcher_timeout_seconds: float = Field(
        5.0, gt=0, description="Timeout of one call to the dispatcher's template registry."
    )
