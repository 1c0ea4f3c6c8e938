"""Test support: real Postgres and NATS for every test, isolated per test."""
