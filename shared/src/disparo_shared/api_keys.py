"""Named API keys with scopes, stored as keyed hashes, found in constant time per request.

A key is 32 random bytes (``generate_api_key``; `disparo keys create` prints one once). What
settings hold is its hash, ``HMAC-SHA256(DISPARO_API_KEY_PEPPER, key)``, with a name and scopes:
``DISPARO_API_KEYS='[{"name": "crm", "hash": "<64 hex>", "scopes": ["messages:send"]}]'``.

Why a keyed SHA-256 and not argon2: argon2 is for passwords, which have little entropy and must
be slow to guess; a 256-bit random key cannot be guessed however fast the hash, and argon2 on
every request (~50 ms of a core each, by design) would cost more CPU than the request itself
on a 2-core box. The pepper (a secret kept apart from the list of hashes) means a leaked
settings file or backup does not even let anyone test a candidate key offline.

A key may carry ``expires_at`` (RFC 3339 with offset, e.g. ``"2027-03-31T23:59:59Z"``): from
then on it is refused with a 401 that says so. Keys are configuration, not data: the list lives
in each service's Kubernetes Secret (the same list everywhere), so creating or revoking a key is
an edit of that Secret and a rollout, recorded by whoever manages the Secrets; there is no
runtime key API, which would need a key store shared by services that share no schema.

In ``DISPARO_ENV=dev``/``test`` a plain string is accepted as a clear key with every scope (the
dev stack's ``dev-key``); production refuses clear keys.
"""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from disparo_shared.secrets import RELAXED_MODES, UnsafeSecrets, require_secrets

if TYPE_CHECKING:
    from disparo_shared.settings import HttpSettings

ADMIN = "admin"
ACTING_USER = "acting-user"
SCOPES: Mapping[str, str] = {
    "messages:send": "POST /v1/messages: send one message",
    "contacts:read": "read contacts, their consent history (phones masked)",
    "contacts:write": "create, change, import, opt out and opt in contacts",
    "contacts:phones": "see contacts' phone numbers in clear",
    "campaigns:read": "read campaigns and segments",
    "campaigns:write": "create, schedule, start, pause and cancel campaigns; save segments",
    "reports:read": "read reports, statistics, message states and CSV exports",
    "read": "any read-only route that declares no scope of its own",
    ADMIN: "everything above, plus senders, dead letters, rebuilds and the audit trail",
    ACTING_USER: "the X-Acting-User header is trusted and recorded (the console's key)",
}
KEY_PREFIX = "dsp_"


def generate_api_key() -> str:
    """A fresh key: a recognisable prefix and 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(pepper: str, key: str) -> str:
    """The stored form of ``key``: hex HMAC-SHA256 keyed by the deployment's pepper."""
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


class ApiKeyEntry(BaseModel):
    """One key as settings declare it: who it is, its hash and what it may do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:-]+$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hash_api_key(pepper, key)")
    scopes: frozenset[str] = Field(min_length=1)
    expires_at: datetime | None = Field(
        None, description="From this moment on the key is refused (RFC 3339, with its offset)"
    )

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: frozenset[str]) -> frozenset[str]:
        unknown = sorted(scopes - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scope {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        return scopes

    @field_validator("expires_at")
    @classmethod
    def _with_offset(cls, expires_at: datetime | None) -> datetime | None:
        if expires_at is not None and expires_at.tzinfo is None:
            raise ValueError("expires_at must name its offset (Z or ±hh:mm)")
        return expires_at

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def grants(self, scope: str) -> bool:
        """Admin holds every scope except speaking for a user, which is given by name only."""
        return scope in self.scopes or (ADMIN in self.scopes and scope != ACTING_USER)


class KeyRing:
    """The keys a service accepts, looked up by the hash of what a request presents.

    The lookup is a dict probe on a hash the caller cannot choose the preimage of, so timing
    tells nothing about stored keys; the hash is computed for every request, found or not.
    """

    def __init__(self, pepper: str, by_hash: Mapping[str, ApiKeyEntry]) -> None:
        self._pepper = pepper
        self._by_hash = dict(by_hash)

    @classmethod
    def from_settings(cls, http: "HttpSettings", mode: str) -> "KeyRing":
        """The ring of ``http.api_keys``; in production refuses clear keys and a weak pepper."""
        relaxed = mode in RELAXED_MODES
        hashed = [e for e in http.api_keys if isinstance(e, ApiKeyEntry)]
        clear = [e for e in http.api_keys if isinstance(e, str) and e]
        if clear and not relaxed:
            raise UnsafeSecrets(
                "refusing to start: DISPARO_API_KEYS holds clear keys; store"
                " {name, hash, scopes} made by `disparo keys create` instead"
            )
        if not relaxed and not hashed:
            raise UnsafeSecrets("refusing to start: DISPARO_API_KEYS is not set")
        if hashed:
            require_secrets(mode, {"DISPARO_API_KEY_PEPPER": http.api_key_pepper})
        by_hash = {e.hash: e for e in hashed}
        for position, key in enumerate(clear, start=1):
            entry = ApiKeyEntry(
                name=f"clear-{position}",
                hash=hash_api_key(http.api_key_pepper, key),
                scopes=frozenset(SCOPES),
            )
            by_hash[entry.hash] = entry
        return cls(http.api_key_pepper, by_hash)

    def find(self, presented: str) -> ApiKeyEntry | None:
        if not presented:
            return None
        return self._by_hash.get(hash_api_key(self._pepper, presented))
