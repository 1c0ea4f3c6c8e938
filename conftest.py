"""Shared pytest fixtures for every tier of tests: real Postgres and NATS, isolated per test."""

pytest_plugins = ["disparo_shared.testing.fixtures"]
