"""How a process connects to NATS: its user (password or NKey), TLS, and its own inbox.

Both nats-py connections (the outbox relay, stream declaration, a rebuild) and the FastStream
broker take their options from here, so a service never connects with one identity for its
subscribers and another for its publishes. Without a user or NKey the server is taken to be
open (the laptop and test default) and the client's options are nats-py's own.
"""

import ssl
from typing import Any

import nats
from faststream.security import BaseSecurity, SASLPlaintext
from nats.aio.client import Client as NatsClient

from disparo_shared.bus_rights import inbox_prefix
from disparo_shared.settings import NatsSettings


def tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    """A client TLS context when a CA is configured; it verifies the server's certificate."""
    if settings.tls_ca_file is None:
        if settings.tls_cert_file or settings.tls_key_file:
            raise ValueError("DISPARO_NATS_TLS_CA_FILE is required with a client certificate")
        return None
    context = ssl.create_default_context(cafile=str(settings.tls_ca_file))
    if settings.tls_cert_file:
        key_file = str(settings.tls_key_file) if settings.tls_key_file else None
        context.load_cert_chain(str(settings.tls_cert_file), key_file)
    return context


def reply_inbox_prefix(settings: NatsSettings) -> str | None:
    """``_INBOX.<user>`` on a closed bus (whose permissions let a user read only its own
    inbox), ``None`` (nats-py's ``_INBOX``) on an open one."""
    if settings.nkey_seed_file and not settings.user:
        raise ValueError("DISPARO_NATS_USER must name the NKey's user (its inbox is named so)")
    return inbox_prefix(settings.user) if settings.user else None


def _identity(settings: NatsSettings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    inbox = reply_inbox_prefix(settings)
    if inbox:
        options["inbox_prefix"] = inbox
    if settings.nkey_seed_file:
        options["nkeys_seed"] = str(settings.nkey_seed_file)
    elif settings.user:
        options["user"] = settings.user
        options["password"] = settings.password.get_secret_value() if settings.password else ""
    return options


def client_options(settings: NatsSettings, client_name: str) -> dict[str, Any]:
    """Keyword arguments of ``nats.connect`` for this process."""
    options: dict[str, Any] = {
        "servers": settings.url.split(","),
        "name": client_name,
        **_identity(settings),
    }
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options


def broker_options(settings: NatsSettings, client_name: str) -> dict[str, Any]:
    """Keyword arguments of FastStream's ``NatsBroker`` for this process."""
    options = {"servers": settings.url.split(","), "name": client_name, **_identity(settings)}
    user, password = options.pop("user", None), options.pop("password", None)
    context = tls_context(settings)
    if user is not None:
        options["security"] = SASLPlaintext(user, password, ssl_context=context)
    elif context is not None:
        options["security"] = BaseSecurity(ssl_context=context)
    return options


async def connect(settings: NatsSettings, client_name: str, **extra: Any) -> NatsClient:
    """A nats-py connection as ``client_name`` (``extra``: reconnect and timeout options)."""
    return await nats.connect(**client_options(settings, client_name), **extra)


# Before 2.10 a delayed nak could be lost: seen on 2.9.10, the server re-sent the next event as a
# first delivery and kept the nak-ed one until its ack wait (30 s) ran out. Nothing is lost (the
# ack wait is the backstop, the inboxes absorb the extra copy), but retries come late.
DELAYED_NAK_RELIABLE_SINCE = (2, 10, 0)


def old_server_warning(nc: NatsClient) -> str | None:
    """What an operator should know about the connected server, or None when it is recent."""
    server = nc.connected_server_version
    try:
        version = (server.major, server.minor, server.patch)
    except ValueError:  # not a semantic version: nothing to say about it
        return None
    if version >= DELAYED_NAK_RELIABLE_SINCE:
        return None
    return (
        f"NATS server {'.'.join(map(str, version))} is older than 2.10: a failed event's "
        "retry may wait for the 30 s ack wait instead of its backoff; upgrade the server"
    )
