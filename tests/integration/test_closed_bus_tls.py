"""The closed bus over mutual TLS: the generated configuration with the server's certificate,
and services connecting with the kernel's TLS settings (CA, client certificate and key).

Certificates are made for the test with the openssl command: a CA, a server certificate for
127.0.0.1 and a client certificate, both signed by that CA.
"""

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.errors import Error as NatsError
from pydantic import SecretStr

from disparo.embedded import EmbeddedNats
from disparo.nats_config import ADMIN_USER, ServerTls, bus_users, render_config
from disparo_shared.events import subjects
from disparo_shared.nats_connection import connect
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import ensure_streams, qualified


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """ca.pem, server.pem/server.key (IP 127.0.0.1) and client.pem/client.key in ``folder``."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=disparo-ca",
        "-keyout", "ca.key", "-out", "ca.pem", cwd=folder,
    )  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
            cwd=folder,
        )  # fmt: skip


@pytest.fixture(scope="module")
def tls_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    folder = tmp_path_factory.mktemp("tls-nats")
    make_certificates(folder)
    users = bus_users()
    passwords = {user: secrets.token_urlsafe(24) for user in users}
    tls = ServerTls(str(folder / "server.pem"), str(folder / "server.key"), str(folder / "ca.pem"))
    config = folder / "nats.conf"
    config.write_text(render_config(users, prefix="ttls.", passwords=passwords, tls=tls))
    server = EmbeddedNats(folder / "store", port=None, config_file=config)
    url = server.start()
    try:
        yield url, folder, passwords
    finally:
        server.stop()


def settings(url: str, user: str, passwords: dict, folder: Path, **tls: Path) -> NatsSettings:
    return NatsSettings(
        url=url, user=user, password=SecretStr(passwords[user]), stream_prefix="ttls.", **tls
    )


async def test_a_service_connects_over_mutual_tls_and_publishes(tls_bus) -> None:
    url, folder, passwords = tls_bus
    certificates = {
        "tls_ca_file": folder / "ca.pem",
        "tls_cert_file": folder / "client.pem",
        "tls_key_file": folder / "client.key",
    }
    admin = settings(url, ADMIN_USER, passwords, folder, **certificates)
    nc = await connect(admin, ADMIN_USER)
    try:
        await ensure_streams(nc.jetstream(), admin)
    finally:
        await nc.close()

    dispatcher = settings(url, "dispatcher", passwords, folder, **certificates)
    nc = await connect(dispatcher, "dispatcher")
    try:
        ack = await nc.jetstream().publish(
            qualified("ttls.", subjects.MESSAGE_SENT), b"{}", timeout=5.0
        )
        assert ack.seq >= 1
    finally:
        await nc.close()


async def test_without_a_client_certificate_the_server_refuses(tls_bus) -> None:
    url, folder, passwords = tls_bus
    only_ca = settings(url, "dispatcher", passwords, folder, tls_ca_file=folder / "ca.pem")
    with pytest.raises((NatsError, OSError)):
        await connect(only_ca, "dispatcher", allow_reconnect=False, connect_timeout=3)


async def test_without_tls_the_server_refuses(tls_bus) -> None:
    url, folder, passwords = tls_bus
    plain = settings(url, "dispatcher", passwords, folder)
    with pytest.raises((NatsError, OSError)):
        await connect(plain, "dispatcher", allow_reconnect=False, connect_timeout=3)
