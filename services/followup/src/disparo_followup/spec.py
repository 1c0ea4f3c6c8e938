"""Identity of the followup service: its name, Postgres schema and migrations."""

from pathlib import Path

from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="followup", schema="followup", migrations=Path(__file__).parent / "migrations"
)
