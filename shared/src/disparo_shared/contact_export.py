"""The question each service answers for a doctor's data export (LGPD access request).

campaign-api knows the doctor by contact id and holds the phone; the dispatcher, followup and
reporting know them mostly by phone (a reply has no contact id). So each of those three answers
``POST /v1/contacts/export`` with this body, and a client (``disparo export-contact``) composes
the four answers. The phone travels in the body, never in a URL: URLs reach access logs.
"""

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from disparo_shared.phones import InvalidPhone, normalize_phone

EXPORT_PATH = "/v1/contacts/export"


class ContactExportRequest(BaseModel):
    """Whose data: the contact id campaign-api gave the doctor, and their phone (E.164)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contact_id: UUID = Field(description="The doctor's contact id in campaign-api.")
    phone: str = Field(max_length=40, description="The doctor's phone, e.g. +5511987654321.")

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            return normalize_phone(value)
        except InvalidPhone as exc:
            raise ValueError(str(exc)) from exc


EXPORT_SCOPE = "contacts:phones"  # the answers hold the phone and texts in clear
