"""HTTP edge of contacts: CRUD, list with filters, opt-out/opt-in, and the streamed bulk import."""

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from disparo_campaign_api.contacts.bulk_import import (
    CsvContacts,
    JsonContacts,
    import_contacts,
    parse_stream,
)
from disparo_campaign_api.contacts.consent import ConsentSource, consent_history, opt_in, opt_out
from disparo_campaign_api.contacts.fields import FieldError, marks_opt_out
from disparo_campaign_api.contacts.handlers import (
    Contact,
    ContactIn,
    ContactPatch,
    get_contact,
    list_contacts,
    update_contact,
    upsert_contact,
)
from disparo_campaign_api.contacts.import_slots import IMPORTS
from disparo_campaign_api.contacts.phones import normalize_phone_fast
from disparo_campaign_api.contacts.privacy import erase_contact, export_contact
from disparo_campaign_api.dependencies import Clock, Pool, Settings
from disparo_campaign_api.idempotency import (
    IN_PROGRESS,
    IdempotencyKeyHeader,
    check_key,
    find_stored,
    key_reused,
    remember,
    run_once,
)
from disparo_campaign_api.pagination import check_limit
from disparo_shared.access import caller_grants
from disparo_shared.audit import audit_contact
from disparo_shared.phones import InvalidPhone
from disparo_shared.privacy import mask_phone
from disparo_shared.problems import Problem, invalid, problem_answers

IMPORT_SCOPE = "POST /v1/contacts/import"
STATUS_OPT_OUT_REASON = "status optout"
CSV_TYPES = {"text/csv", "application/csv", "text/plain"}
JSON_TYPES = {
    "application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
    "application/x-jsonlines", "application/jsonlines",
}  # fmt: skip


class ContactErasure(BaseModel):
    contact_id: UUID
    erased_at: datetime = Field(description="When the doctor was erased (the first request).")


PHONES_SCOPE = "contacts:phones"


def _shown(request: Request, contact: Contact) -> Contact:
    """The contact as this caller may see it: the phone in clear only with contacts:phones."""
    if caller_grants(request, PHONES_SCOPE):
        return contact
    return contact.model_copy(update={"phone": mask_phone(contact.phone)})


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Text Postgres can store and a person can read: a NUL in a reason failed the insert (500)."""


class OptOutRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=NO_CONTROL_CHARACTERS,
        examples=["asked by phone call"],
    )


class OptInRequest(BaseModel):
    """Opting a doctor back in needs proof they agreed: where the consent is recorded (LGPD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    consent_reference: str = Field(
        min_length=1,
        max_length=200,
        pattern=NO_CONTROL_CHARACTERS,
        description="Where the doctor's consent is kept: a signed term's id, a ticket, a URL.",
        examples=["termo-2025-118"],
    )
    reason: str | None = Field(
        None,
        max_length=500,
        pattern=NO_CONTROL_CHARACTERS,
        examples=["consent renewed in writing"],
    )


class ConsentChange(BaseModel):
    action: str
    reason: str | None
    source: str
    source_ref: str | None
    event_id: UUID
    occurred_at: datetime


class ImportRowError(BaseModel):
    row: int = Field(description="Spreadsheet row (CSV header is row 1) or JSON position from 1.")
    field: str
    reason: str


class ImportAnswer(BaseModel):
    received: int
    inserted: int
    updated: int
    unchanged: int
    duplicates: int = Field(description="Rows replaced by a later row with the same phone.")
    invalid: int
    opted_out: int = Field(
        description="Contacts this import opted out: rows whose status is the spec's marker"
        " 'optout' (consent history source 'import'), not counting those already out."
    )
    errors: list[ImportRowError]
    errors_truncated: bool


async def _opt_out_by_status(conn: asyncpg.Connection, contact_id: UUID, at: datetime) -> Contact:
    return await opt_out(
        conn, contact_id, reason=STATUS_OPT_OUT_REASON, source=ConsentSource.API, at=at
    )


_PHONE_WRITING = re.compile(r"^\+?[\d\s().-]+$")
MIN_PHONE_ENDING = 4


@dataclass(frozen=True)
class SearchTerms:
    """What ``q`` asks for: at most one of a name fragment, a whole phone, a phone's end."""

    name_contains: str | None = None
    phone: str | None = None  # E.164
    phone_ending: str | None = None  # digits only


def search_terms(q: str | None) -> SearchTerms:
    """``q`` read as a search. Digits and separators only are a phone: a whole one in any usual
    writing ("(11) 98765-4321") is that phone; fewer digits than a whole phone, at least 4 and
    without a leading "+", are the end of one ("4321", "98765-4321"). Anything else is a name
    fragment of 2 to 100 characters. 422 for a phone too short to search by."""
    text = (q or "").strip()
    if not text:
        return SearchTerms()
    if _PHONE_WRITING.fullmatch(text):
        try:
            return SearchTerms(phone=normalize_phone_fast(text))
        except InvalidPhone:
            digits = re.sub(r"\D", "", text)
            if text.startswith("+") or len(digits) < MIN_PHONE_ENDING:
                raise invalid(
                    "q",
                    f"a whole phone number with its area code, or its last {MIN_PHONE_ENDING} "
                    "digits or more",
                ) from None
            return SearchTerms(phone_ending=digits)
    if not 2 <= len(text) <= 100:
        raise invalid("q", "a name fragment must have 2 to 100 characters")
    if not re.fullmatch(NO_CONTROL_CHARACTERS, text):
        raise invalid("q", "must not contain control characters")
    return SearchTerms(name_contains=text)


def _dump(contact: Contact) -> dict[str, Any]:
    return contact.model_dump(mode="json")


class ContactsController(Controller):
    path = "/v1/contacts"
    tags = ["contacts"]  # noqa: RUF012 - the Litestar idiom
    opt = {"resource": "contacts"}  # noqa: RUF012 - the scope each route needs (disparo_shared.access)

    @post(
        "/",
        summary="Create or update a contact by phone",
        status_code=200,
        responses=problem_answers({409: IN_PROGRESS}),
    )
    async def upsert(
        self,
        data: JSONBody[ContactIn],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Contact]:
        """201 when created, 200 when the phone already existed
        (omitted fields keep their value); status ``optout`` opts the contact out.
        """

        async def work(conn: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
            contact, created = await upsert_contact(conn, data)
            if marks_opt_out(data.status):
                contact = await _opt_out_by_status(conn, contact.id, clock())
            return (201 if created else 200), _dump(contact)

        stored = await run_once(
            pool,
            scope="POST /v1/contacts",
            key=check_key(idempotency_key),
            request_body=data.model_dump(mode="json", exclude_unset=True),
            work=work,
        )
        return stored.to_response()

    @get("/{contact_id:uuid}", summary="Read a contact")
    async def read(self, request: Request, contact_id: FromPath[UUID], pool: Pool) -> Contact:
        """The phone is masked unless the key holds ``contacts:phones``."""
        return _shown(request, await get_contact(pool, contact_id))

    @patch("/{contact_id:uuid}", summary="Change some fields of a contact")
    async def change(
        self, contact_id: FromPath[UUID], data: JSONBody[ContactPatch], pool: Pool, clock: Clock
    ) -> Contact:
        """Status ``optout`` (the spec's marker) opts the contact out instead of being stored."""
        async with pool.acquire() as conn, conn.transaction():
            contact = await update_contact(conn, contact_id, data)
            if marks_opt_out(data.status):
                contact = await _opt_out_by_status(conn, contact_id, clock())
            return contact

    @delete(
        "/{contact_id:uuid}",
        summary="Erase a contact everywhere (LGPD)",
        status_code=200,
        opt={"scope": "admin"},  # irreversible, in every service
    )
    async def erase(
        self, request: Request, contact_id: FromPath[UUID], pool: Pool, clock: Clock
    ) -> ContactErasure:
        """Deletes the doctor's profile and consent history here and tells every service to
        forget them (``contact.erased``): queued messages are cancelled, phones, names and
        message texts are blanked; counts stay. Erasing again answers the first erasure."""
        audit_contact(request, contact_id)
        async with pool.acquire() as conn, conn.transaction():
            erased_at = await erase_contact(conn, contact_id, clock())
        return ContactErasure(contact_id=contact_id, erased_at=erased_at)

    @get(
        "/{contact_id:uuid}/export",
        summary="Everything held about a contact (LGPD)",
        opt={"scope": PHONES_SCOPE},  # the phone in clear, the whole history
    )
    async def export(
        self, request: Request, contact_id: FromPath[UUID], pool: Pool
    ) -> dict[str, Any]:
        """The doctor's profile, consent history and the campaigns that reached them, as JSON.
        A read, yet audited with the contact id: an access to one person's whole record."""
        audit_contact(request, contact_id)
        return await export_contact(pool, contact_id)

    @get("/", summary="List contacts (filters, cursor pagination)")
    async def search(
        self,
        request: Request,
        pool: Pool,
        settings: Settings,
        specialty: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        tag: FromQuery[list[str] | None] = None,
        opted_out: FromQuery[bool | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
    ) -> ContactPage:
        """Filters combine with AND; several ``tag`` require all of them. ``q`` searches: a
        whole phone in any usual writing ("(11) 98765-4321") finds that doctor, its last 4 or
        more digits ("4321") the doctors whose phone ends so, any other text (2 to 100
        characters) is found anywhere in the name, any case, accents or not ("joao" finds
        "João"). Phones are masked unless the key holds ``contacts:phones``."""
        terms = search_terms(q)
        page = await list_contacts(
            pool,
            specialty=specialty,
            region=region,
            status=status,
            tags=tag,
            opted_out=opted_out,
            limit=check_limit(limit, settings.page_max_limit),
            cursor=cursor,
            name_contains=terms.name_contains,
            phone=terms.phone,
            phone_ending=terms.phone_ending,
        )
        items = [_shown(request, contact) for contact in page.items]
        return ContactPage(items=items, next_cursor=page.next_cursor)

    @post(
        "/{contact_id:uuid}/opt-out",
        summary="Opt a contact out (LGPD)",
        status_code=200,
        responses=problem_answers({409: IN_PROGRESS}),
    )
    async def request_opt_out(
        self,
        contact_id: FromPath[UUID],
        data: JSONBody[OptOutRequest],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Contact]:
        """No message is sent to the contact afterwards; publishes ``contact.opted_out``.
        Opting out an opted-out contact changes nothing."""

        async def work(conn: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
            contact = await opt_out(
                conn, contact_id, reason=data.reason, source=ConsentSource.API, at=clock()
            )
            return 200, _dump(contact)

        stored = await run_once(
            pool,
            scope=f"POST /v1/contacts/{contact_id}/opt-out",
            key=check_key(idempotency_key),
            request_body=data.model_dump(mode="json"),
            work=work,
        )
        return stored.to_response()

    @post(
        "/{contact_id:uuid}/opt-in",
        summary="Opt a contact back in",
        status_code=200,
        responses=problem_answers({409: IN_PROGRESS}),
    )
    async def request_opt_in(
        self,
        contact_id: FromPath[UUID],
        data: JSONBody[OptInRequest],
        pool: Pool,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Contact]:
        """Publishes ``contact.opted_in``; kept in the contact's consent history with its
        ``consent_reference`` (as ``source_ref``)."""

        async def work(conn: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
            contact = await opt_in(
                conn,
                contact_id,
                reason=data.reason,
                source=ConsentSource.API,
                at=clock(),
                consent_reference=data.consent_reference,
            )
            return 200, _dump(contact)

        stored = await run_once(
            pool,
            scope=f"POST /v1/contacts/{contact_id}/opt-in",
            key=check_key(idempotency_key),
            request_body=data.model_dump(mode="json"),
            work=work,
        )
        return stored.to_response()

    @get("/{contact_id:uuid}/consent", summary="The contact's opt-out/opt-in history")
    async def consent(self, contact_id: FromPath[UUID], pool: Pool) -> list[ConsentChange]:
        return [ConsentChange(**change) for change in await consent_history(pool, contact_id)]

    @post(
        "/import",
        summary="Bulk import (CSV, JSON array or NDJSON), streamed",
        status_code=200,
        responses=problem_answers(
            {415: "The Content-Type is not text/csv, application/json or application/x-ndjson."}
        ),
        request_max_body_size=None,  # bounded by settings.import_max_body_bytes while streaming
    )
    async def import_(
        self,
        request: Request,
        pool: Pool,
        settings: Settings,
        clock: Clock,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[ImportAnswer]:
        """Upserts by phone, 5,000 rows per statement, without holding the file in memory.

        ``Content-Type: text/csv`` (header row; `,`, `;` or tab; columns phone, name, specialty,
        region, tags (`|`/`;`/`,` separated), status, time_zone, attributes (JSON); any other
        column becomes a custom attribute) or `application/json` (an array of objects) or
        `application/x-ndjson`. Invalid rows are counted and listed (the first 1,000) with their
        row and reason; valid rows are kept. Empty cells keep stored values; opt-outs stay. A
        row whose status is ``optout`` (the spec's marker) opts its contact out: consent history
        source ``import``, ``contact.opted_out`` published, never in an audience.
        """
        media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media_type in CSV_TYPES:
            parser: CsvContacts | JsonContacts = CsvContacts(settings.import_max_row_bytes)
        elif media_type in JSON_TYPES:
            parser = JsonContacts(settings.import_max_row_bytes)
        else:
            raise Problem(
                415,
                "Unsupported media type",
                "Content-Type: send text/csv, application/json or application/x-ndjson",
                errors=[
                    {
                        "field": "header.Content-Type",
                        "reason": "text/csv, application/json or application/x-ndjson",
                    }
                ],
            )
        key = check_key(idempotency_key)
        body_hash = hashlib.sha256()
        body = _bounded(request.stream(), settings.import_max_body_bytes, body_hash)
        if key is not None and (stored := await find_stored(pool, IMPORT_SCOPE, key)) is not None:
            async for _ in body:  # hash the body to tell a retry from a reuse of the key
                pass
            if stored[0] != body_hash.hexdigest():
                raise key_reused()
            return stored[1].to_response()
        try:
            with IMPORTS.take(settings.import_max_concurrent):
                result = await import_contacts(
                    pool,
                    parse_stream(body, parser),
                    batch_size=settings.import_batch_size,
                    max_listed_errors=settings.import_max_listed_errors,
                    at=clock(),
                    writers=settings.import_writers,
                )
        except FieldError as exc:
            raise invalid(exc.field, exc.reason) from None
        answer = result.as_dict()
        if key is not None:
            await remember(
                pool,
                scope=IMPORT_SCOPE,
                key=key,
                body_hash=body_hash.hexdigest(),
                status_code=200,
                body=answer,
            )
        return Response(answer, status_code=200)


async def _bounded(
    chunks: AsyncIterator[bytes], max_bytes: int, body_hash: Any
) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise Problem(
                413, "Import too large", f"body: at most {max_bytes} bytes; split the file"
            )
        body_hash.update(chunk)
        yield chunk
