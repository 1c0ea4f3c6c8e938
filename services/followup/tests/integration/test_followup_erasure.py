"""followup forgets an erased doctor, including what a late event from before the erasure
would bring back (the streams are not ordered among each other)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from disparo_followup.conversations import apply
from disparo_shared.db import create_pool
from disparo_shared.events import ContactErased, MessageReceived
from disparo_shared.settings import DatabaseSettings

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PHONE = "+5511980000077"


def received(at: datetime) -> MessageReceived:
    return MessageReceived(
        phone=PHONE, sender="sender-1", body="Sim", provider_message_id=f"wamid.{uuid4().hex}",
        at=at, occurred_at=at,
    )  # fmt: skip


async def test_an_erased_doctor_stays_forgotten_when_a_late_event_arrives(
    database_url: str, db
) -> None:
    pool = await create_pool(
        DatabaseSettings(url=database_url, pool_min_size=1, pool_max_size=2), "followup"
    )
    try:
        await apply(pool, received(T0))
        assert await db.fetchval("SELECT count(*) FROM followup.phones WHERE phone = $1", PHONE)
        await apply(pool, ContactErased(contact_id=uuid4(), phone=PHONE, occurred_at=T0))
        assert not await db.fetchval("SELECT count(*) FROM followup.phones WHERE phone = $1", PHONE)
        await apply(pool, received(T0 - timedelta(minutes=1)))  # from before, arriving late
        assert not await db.fetchval("SELECT count(*) FROM followup.phones WHERE phone = $1", PHONE)
        await apply(pool, received(T0 + timedelta(days=1)))  # the doctor writes again later
        assert await db.fetchval("SELECT count(*) FROM followup.phones WHERE phone = $1", PHONE)
    finally:
        await pool.close()
