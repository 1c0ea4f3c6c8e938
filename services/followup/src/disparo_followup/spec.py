"""Identity of the followup service: its name, Postgres schema, migrations and bus rights."""

from pathlib import Path

from disparo_shared.bus_rights import BusRights, Consumer
from disparo_shared.events import subjects
from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="followup",
    schema="followup",
    migrations=Path(__file__).parent / "migrations",
    phone_digest_tables=("erased_phones",),
    bus=BusRights(
        publishes=(*subjects.MESSAGES_REQUESTED_SUBJECTS, subjects.CONVERSATION_CONTROL_CHANGED),
        consumes=(
            Consumer(subjects.STREAM_COMMANDS, "followup-requests"),
            Consumer(subjects.STREAM_COMMANDS, "followup-urgent-requests"),
            Consumer(subjects.STREAM_MESSAGES, "followup-messages"),
            Consumer(subjects.STREAM_CONVERSATIONS, "followup-conversations"),
            Consumer(subjects.STREAM_CONTACTS, "followup-contacts"),
            Consumer(subjects.STREAM_CAMPAIGNS, "followup-campaigns"),
        ),
    ),
)
