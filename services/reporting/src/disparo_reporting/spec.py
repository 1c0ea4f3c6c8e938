"""Identity of the reporting service: its name, Postgres schema, migrations and bus rights."""

from pathlib import Path

from disparo_shared.bus_rights import BusRights, Consumer
from disparo_shared.events import subjects
from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="reporting",
    schema="reporting",
    migrations=Path(__file__).parent / "migrations",
    phone_digest_tables=("erased_phones",),
    bus=BusRights(
        consumes=(
            Consumer(subjects.STREAM_MESSAGES, "reporting-messages"),
            Consumer(subjects.STREAM_COMMANDS, "reporting-requests"),
            Consumer(subjects.STREAM_COMMANDS, "reporting-urgent-requests"),
            Consumer(subjects.STREAM_CAMPAIGNS, "reporting-campaigns"),
            Consumer(subjects.STREAM_CONTACTS, "reporting-contacts"),
            Consumer(subjects.STREAM_CONVERSATIONS, "reporting-conversations"),
        ),
        replays=(
            subjects.STREAM_CAMPAIGNS,
            subjects.STREAM_CONTACTS,
            subjects.STREAM_COMMANDS,
            subjects.STREAM_MESSAGES,
            subjects.STREAM_CONVERSATIONS,
        ),
    ),
)
