"""Identity of the campaign-api service: its name, Postgres schema and migrations."""

from pathlib import Path

from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="campaign-api", schema="campaign_api", migrations=Path(__file__).parent / "migrations"
)
