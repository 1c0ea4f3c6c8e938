"""The contacts table keeps only E.164 phones, whatever path writes them."""

import asyncpg

PHONES = {
    "+12345678": True,  # 8 digits, the shortest
    "+123456789012345": True,  # 15 digits, the longest
    "+5511987654321": True,
    "+1234567": False,  # 7 digits
    "+1234567890123456": False,  # 16 digits
    "+0234567890": False,  # no country code starts with 0
    "5511987654321": False,  # no "+"
    "+55119876543a1": False,
    "+5511987654321\n": False,
    "+5511９87654321": False,  # a full-width digit
}


async def test_contacts_refuse_phones_that_are_not_e164(db):
    accepted = {}
    for phone in PHONES:
        try:
            await db.execute("INSERT INTO campaign_api.contacts (phone) VALUES ($1)", phone)
            accepted[phone] = True
        except asyncpg.CheckViolationError:
            accepted[phone] = False
    assert accepted == PHONES
