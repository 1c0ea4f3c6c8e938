"""Identity of the reporting service: its name, Postgres schema and migrations."""

from pathlib import Path

from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="reporting", schema="reporting", migrations=Path(__file__).parent / "migrations"
)
