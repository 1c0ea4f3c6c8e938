"""A closed-bus user that signs in with an NKey: `disparo nats-config --nkey USER=PUBLIC_KEY`
puts the public key in place of the password, and the service connects with its seed file."""

import os
import secrets
from collections.abc import Iterator

import nkeys
import pytest
from nats.errors import Error as NatsError
from pydantic import SecretStr

from disparo.embedded import EmbeddedNats
from disparo.nats_config import ADMIN_USER, bus_users, render_config
from disparo_shared.events import subjects
from disparo_shared.nats_connection import connect
from disparo_shared.settings import NatsSettings
from disparo_shared.streams import ensure_streams, qualified

PREFIX = "tnkey."


@pytest.fixture(scope="module")
def nkey_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict, object]]:
    folder = tmp_path_factory.mktemp("nkey-nats")
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public_key = nkeys.from_seed(bytearray(seed)).public_key.decode()
    seed_file = folder / "followup.nk"
    seed_file.write_bytes(seed)
    users = bus_users()
    passwords = {user: secrets.token_urlsafe(24) for user in users if user != "followup"}
    config = folder / "nats.conf"
    config.write_text(
        render_config(users, prefix=PREFIX, passwords=passwords, nkeys={"followup": public_key})
    )
    server = EmbeddedNats(folder / "store", port=None, config_file=config)
    url = server.start()
    try:
        yield url, passwords, seed_file
    finally:
        server.stop()


async def test_a_service_signs_in_with_its_nkey_and_keeps_its_rights(nkey_bus) -> None:
    url, passwords, seed_file = nkey_bus
    admin = NatsSettings(
        url=url, stream_prefix=PREFIX, user=ADMIN_USER, password=SecretStr(passwords[ADMIN_USER])
    )
    nc = await connect(admin, ADMIN_USER)
    try:
        await ensure_streams(nc.jetstream(), admin)
    finally:
        await nc.close()

    followup = NatsSettings(
        url=url, stream_prefix=PREFIX, user="followup", nkey_seed_file=seed_file
    )
    nc = await connect(followup, "followup")
    try:
        js = nc.jetstream()
        ack = await js.publish(qualified(PREFIX, subjects.MESSAGES_REQUESTED), b"{}", timeout=5)
        assert ack.seq >= 1
        with pytest.raises((TimeoutError, NatsError)):
            await js.publish(qualified(PREFIX, subjects.CONTACT_OPTED_IN), b"{}", timeout=1)
    finally:
        await nc.close()


async def test_a_wrong_nkey_is_refused(nkey_bus, tmp_path) -> None:
    url, _, _ = nkey_bus
    other = tmp_path / "other.nk"
    other.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
    settings = NatsSettings(url=url, stream_prefix=PREFIX, user="followup", nkey_seed_file=other)
    with pytest.raises((NatsError, OSError)):
        await connect(settings, "followup", allow_reconnect=False, connect_timeout=3)
