"""Contacts (the doctors): create-or-update by phone, read, patch and list with filters.

A contact is identified by its phone in E.164, so every path that writes one — this API, the
bulk import, an inbound opt-out — lands on the same row for the same person. Opt-out state is
changed only by ``consent``; nothing here touches it (a status ``optout``, the spec's marker, is
stored as no status; the HTTP edge then opts the contact out).
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from disparo_campaign_api.contacts.fields import (
    FieldError,
    clean_attributes,
    clean_phone,
    clean_status,
    clean_tags,
    clean_text,
    clean_time_zone,
    stored_status,
)
from disparo_campaign_api.pagination import Page, decode_cursor, paginate
from disparo_shared.problems import Problem, invalid
from disparo_shared.queries import load_queries

Q = load_queries(Path(__file__).parent / "queries.sql")


class ContactIn(BaseModel):
    """``POST /v1/contacts``: create, or update the contact with this phone. Omitted fields keep
    their stored value; ``attributes`` are merged into the stored ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phone: str = Field(
        description="Any common form; '(11) 8765-4321' and '+5511987654321' are one."
    )
    name: str | None = None
    specialty: str | None = Field(None, examples=["Anestesiologia"])
    region: str | None = Field(None, examples=["ABC"])
    tags: list[str] | None = Field(None, examples=[["disponível", "noturno"]])
    status: str | None = Field(
        None,
        description="A lower-case word; default active. 'optout' (the spec's marker) is not"
        " stored: it opts the contact out (consent history source 'api').",
    )
    time_zone: str | None = Field(None, description="IANA zone; default America/Sao_Paulo.")
    attributes: dict[str, Any] | None = Field(
        None, description="Custom fields for segments/templates."
    )


class ContactPatch(BaseModel):
    """``PATCH /v1/contacts/{id}``: only the fields sent change; ``null`` clears name, specialty
    or region; ``attributes`` is a JSON merge patch (a key set to null is removed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    specialty: str | None = None
    region: str | None = None
    tags: list[str] | None = None
    status: str | None = None
    time_zone: str | None = None
    attributes: dict[str, Any] | None = None


class Contact(BaseModel):
    """A contact as the API shows it."""

    id: UUID
    phone: str
    name: str | None
    specialty: str | None
    region: str | None
    tags: list[str]
    status: str
    time_zone: str
    attributes: dict[str, Any]
    interactions: int = Field(description="Replies received from the contact (engagement).")
    last_contact_at: datetime | None = Field(
        description="Our last message or theirs, whichever is later (the spec's último contato)."
    )
    last_inbound_at: datetime | None = Field(description="Their last message to us.")
    last_outbound_at: datetime | None = Field(
        description="Our last message that reached the provider (message.sent)."
    )
    created_at: datetime
    updated_at: datetime
    opted_out: bool
    opted_out_at: datetime | None
    opt_out_reason: str | None


def to_contact(row: asyncpg.Record) -> Contact:
    return Contact(
        **{k: row[k] for k in Contact.model_fields if k != "opted_out"},
        opted_out=row["opted_out_at"] is not None,
    )


def _as_problem(exc: FieldError) -> Problem:
    return invalid(exc.field, exc.reason)


def not_found(contact_id: UUID) -> Problem:
    return Problem(404, "Contact not found", f"no contact with id {contact_id}")


async def upsert_contact(conn: asyncpg.Connection, data: ContactIn) -> tuple[Contact, bool]:
    """The stored contact and whether it was created (else updated)."""
    try:
        values = (
            clean_phone(data.phone),
            clean_text("name", data.name),
            clean_text("specialty", data.specialty),
            clean_text("region", data.region),
            clean_tags(data.tags),
            stored_status(clean_status(data.status)),
            clean_time_zone(data.time_zone),
            clean_attributes(data.attributes),
        )
    except FieldError as exc:
        raise _as_problem(exc) from None
    row = await conn.fetchrow(Q.upsert_contact, *values)
    return to_contact(row), row["created"]


async def get_contact(conn: asyncpg.Connection | asyncpg.Pool, contact_id: UUID) -> Contact:
    row = await conn.fetchrow(Q.get_contact, contact_id)
    if row is None:
        raise not_found(contact_id)
    return to_contact(row)


async def update_contact(
    conn: asyncpg.Connection, contact_id: UUID, patch: ContactPatch
) -> Contact:
    given = patch.model_fields_set
    try:
        if "status" in given and patch.status is None:
            raise FieldError("status", "cannot be null")
        if "time_zone" in given and patch.time_zone is None:
            raise FieldError("time_zone", "cannot be null")
        attributes = patch.attributes or {}
        merge = {k: v for k, v in attributes.items() if v is not None}
        clean_attributes(merge)
        remove = [k for k, v in attributes.items() if v is None]
        tags = clean_tags(patch.tags) if "tags" in given else None
        if "tags" in given and patch.tags is None:
            raise FieldError("tags", "cannot be null (send [] to clear)")
        row = await conn.fetchrow(
            Q.update_contact,
            contact_id,
            "name" in given,
            clean_text("name", patch.name),
            "specialty" in given,
            clean_text("specialty", patch.specialty),
            "region" in given,
            clean_text("region", patch.region),
            "tags" in given,
            tags if tags is not None else [],
            stored_status(clean_status(patch.status)),
            clean_time_zone(patch.time_zone),
            "attributes" in given and patch.attributes is not None,
            merge,
            remove,
        )
    except FieldError as exc:
        raise _as_problem(exc) from None
    if row is None:
        raise not_found(contact_id)
    return to_contact(row)


def like_escaped(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern: ``50%_off`` → ``50\\%\\_off``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_contacts(
    pool: asyncpg.Pool,
    *,
    specialty: str | None,
    region: str | None,
    status: str | None,
    tags: list[str] | None,
    opted_out: bool | None,
    limit: int,
    cursor: str | None,
    name_contains: str | None = None,
    phone: str | None = None,
    phone_ending: str | None = None,
) -> Page[Contact]:
    """``name_contains`` matches anywhere in the name, any case, accents or not ("joao" finds
    "João"); ``phone`` is E.164; ``phone_ending`` is the phone's last digits ("4321")."""
    after = decode_cursor(cursor, (UUID,)) or [None]
    pattern = f"%{like_escaped(name_contains)}%" if name_contains else None
    reversed_ending = f"{phone_ending[::-1]}%" if phone_ending else None
    rows = await pool.fetch(
        Q.list_contacts,
        specialty,
        region,
        status,
        tags or None,
        opted_out,
        *after,
        limit + 1,
        pattern,
        phone,
        reversed_ending,
    )
    page = paginate(rows, limit, lambda r: (r["id"],))
    return Page(items=[to_contact(r) for r in page.items], next_cursor=page.next_cursor)
