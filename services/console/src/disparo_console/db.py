"""The console's named queries, loaded once."""

from pathlib import Path

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "queries.sql")
