"""Test servers from Docker: Postgres 15 and NATS with JetStream, via testcontainers.

Used by ``servers.resolve_servers`` only when a Docker engine answers; testcontainers is
imported here, on use, so a machine without it (or without Docker) never needs it.
"""

from contextlib import ExitStack
from dataclasses import dataclass

POSTGRES_IMAGE = "postgres:15"
NATS_IMAGE = "nats:2.10"


@dataclass(frozen=True)
class ContainerTestServers:
    database_url: str
    nats_url: str


def start_containers(stack: ExitStack) -> ContainerTestServers:
    """Start both containers; ``stack`` stops and removes them."""
    from testcontainers.community.nats import NatsContainer
    from testcontainers.community.postgres import PostgresContainer

    postgres = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
    )
    stack.enter_context(postgres)
    nats_server = NatsContainer(NATS_IMAGE, jetstream=True)
    stack.enter_context(nats_server)
    return ContainerTestServers(
        database_url=postgres.get_connection_url(driver=None),
        nats_url=nats_server.nats_uri(),
    )
