"""Identity of the campaign-api service: its name, Postgres schema, migrations and bus rights."""

from pathlib import Path

from disparo_shared.bus_rights import BusRights, Consumer
from disparo_shared.events import subjects
from disparo_shared.runtime import ServiceSpec

SPEC = ServiceSpec(
    name="campaign-api",
    schema="campaign_api",
    migrations=Path(__file__).parent / "migrations",
    bus=BusRights(
        publishes=(
            subjects.CAMPAIGN_CREATED,
            subjects.CAMPAIGN_SCHEDULED,
            subjects.CAMPAIGN_STARTED,
            subjects.CAMPAIGN_PAUSED,
            subjects.CAMPAIGN_RESUMED,
            subjects.CAMPAIGN_CANCELLED,
            subjects.CAMPAIGN_COMPLETED,
            *subjects.MESSAGES_REQUESTED_SUBJECTS,
            subjects.CONTACT_OPTED_OUT,
            subjects.CONTACT_OPTED_IN,
            subjects.CONTACT_ERASED,
        ),
        consumes=(
            Consumer(subjects.STREAM_MESSAGES, "campaign-api-inbound-replies"),
            Consumer(subjects.STREAM_MESSAGES, "campaign-api-campaign-sent"),
            Consumer(subjects.STREAM_MESSAGES, "campaign-api-campaign-failed"),
            Consumer(subjects.STREAM_MESSAGES, "campaign-api-outbound-messages"),
            Consumer(subjects.STREAM_CONTACTS, "campaign-api-reported-opt-outs"),
        ),
    ),
)
