"""Identity of the dispatcher service: its name, Postgres schema and migrations."""

from pathlib import Path

from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="dispatcher", schema="dispatcher", migrations=Path(__file__).parent / "migrations"
)
