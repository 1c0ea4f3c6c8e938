"""Typed settings of the reporting service (env prefix ``DISPARO_REPORTING_``)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    """How reporting serves and how it projects events."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_REPORTING_", extra="ignore")

    port: int = Field(8001, description="HTTP port of the reports API and /metrics.")
    reply_window_hours: int = Field(
        168,
        ge=1,
        description="An inbound message counts as a reply to the latest message sent to that "
        "phone at most this many hours before it (168 h = 7 days).",
    )
    csv_batch_size: int = Field(
        1000, ge=1, le=50_000, description="Rows fetched per keyset page of the CSV export."
    )
    top_responders: int = Field(
        10, ge=1, le=100, description="How many doctors a campaign report lists as top responders."
    )
    time_zone: str = Field(
        "America/Sao_Paulo", description="Zone of the reports' series and the CSV's times."
    )
    phone_retention_days: int = Field(
        90,
        ge=1,
        description="Days after which a message loses its phone and name, and a reply its phone "
        "and first words (LGPD retention); the counts stay.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the retention job runs."
    )
    message_price: float = Field(
        0.35,
        ge=0,
        description="Price of one business-initiated message in the account's currency (BRL by "
        "default), behind the overview's cost of failures: dead messages × this price.",
    )
    overview_page_size: int = Field(
        50, ge=1, le=500, description="Campaigns per page of the overview when none is asked."
    )
    batch_size: int = Field(
        500,
        ge=1,
        le=1000,
        description="Events one pull of a subscription brings at most, projected together in "
        "one transaction (or a few, ``batch_max_messages``); 1 projects them one by one.",
    )
    batch_max_messages: int = Field(
        5000,
        ge=1,
        description="Messages one transaction projects at most: a pull's events are applied in "
        "batches that stop at this many (a sent, enqueued or requested event counts its "
        "messages, up to 5,000; a receipt, one).",
    )
    batch_wait_seconds: float = Field(
        0.2,
        gt=0,
        description="How long an empty pull waits for events (a pull returns as soon as it has "
        "some): the most a lone event can wait before it is projected.",
    )
    max_deliveries: int = Field(
        20,
        ge=1,
        description="Attempts at projecting one event before it is dropped with an error log "
        "(a replay can still restore it).",
    )
