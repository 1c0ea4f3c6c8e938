"""Identity of the dispatcher service: its name, Postgres schema, migrations and bus rights."""

from pathlib import Path

from disparo_shared.bus_rights import BusRights, Consumer
from disparo_shared.events import subjects
from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="dispatcher",
    schema="dispatcher",
    migrations=Path(__file__).parent / "migrations",
    phone_digest_tables=("erased_contacts",),
    bus=BusRights(
        publishes=(
            subjects.MESSAGE_ENQUEUED,
            subjects.MESSAGE_SENT,
            subjects.MESSAGE_FAILED,
            subjects.MESSAGE_DELIVERED,
            subjects.MESSAGE_READ,
            subjects.MESSAGE_RECEIVED,
            subjects.MESSAGE_CANCELLED,  # a follow-up whose conversation moved on
            subjects.CONTACT_OPTED_OUT,  # a provider's "stopped marketing" answer
        ),
        consumes=(
            Consumer(subjects.STREAM_COMMANDS, "dispatcher-messages-requested"),
            Consumer(subjects.STREAM_COMMANDS, "dispatcher-urgent-requests"),
            Consumer(subjects.STREAM_CAMPAIGNS, "dispatcher-campaign-started"),
            Consumer(subjects.STREAM_CAMPAIGNS, "dispatcher-campaign-paused"),
            Consumer(subjects.STREAM_CAMPAIGNS, "dispatcher-campaign-resumed"),
            Consumer(subjects.STREAM_CAMPAIGNS, "dispatcher-campaign-cancelled"),
            Consumer(subjects.STREAM_CONTACTS, "dispatcher-contact-opted-out"),
            Consumer(subjects.STREAM_CONTACTS, "dispatcher-contact-opted-in"),
            Consumer(subjects.STREAM_CONTACTS, "dispatcher-contact-erased"),
            Consumer(subjects.STREAM_CONVERSATIONS, "dispatcher-conversation-stage-changed"),
            Consumer(subjects.STREAM_CONVERSATIONS, "dispatcher-conversation-control-changed"),
        ),
    ),
)
