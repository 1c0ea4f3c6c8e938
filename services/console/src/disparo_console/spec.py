"""Identity of the console: its name, Postgres schema and migrations."""

from pathlib import Path

from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="console", schema="console", migrations=Path(__file__).parent / "migrations"
)
