"""The inbox: a consumer handles each event id once; the record commits with the handler's work."""

import uuid

import pytest

from disparo_shared.inbox import first_delivery, prune_inbox
from disparo_shared.migrations import migrate

SCHEMA = "inbox_test"


@pytest.fixture
async def conn(database_url, db, tmp_path):
    await migrate(database_url, SCHEMA, tmp_path)
    await db.execute(f"SET search_path = {SCHEMA}")
    return db


async def test_first_delivery_is_true_once_then_false(conn):
    event_id = uuid.uuid4()

    assert await first_delivery(conn, "reporting.sent", event_id) is True
    assert await first_delivery(conn, "reporting.sent", event_id) is False


async def test_each_consumer_keeps_its_own_record(conn):
    event_id = uuid.uuid4()
    await first_delivery(conn, "reporting.sent", event_id)

    assert await first_delivery(conn, "followup.sent", event_id) is True


async def test_a_rolled_back_handler_leaves_the_event_to_be_handled_again(conn):
    event_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            assert await first_delivery(conn, "reporting.sent", event_id) is True
            raise RuntimeError("the handler crashed before commit")

    assert await first_delivery(conn, "reporting.sent", event_id) is True


async def test_prune_forgets_only_old_ids(conn):
    old, recent = uuid.uuid4(), uuid.uuid4()
    await first_delivery(conn, "c", old)
    await first_delivery(conn, "c", recent)
    await conn.execute(
        "UPDATE inbox SET received_at = now() - interval '40 days' WHERE event_id = $1", old
    )

    assert await prune_inbox(conn, older_than_days=30) == 1
    assert await first_delivery(conn, "c", recent) is False
