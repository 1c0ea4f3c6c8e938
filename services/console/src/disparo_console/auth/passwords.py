"""Password hashing with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes, 4 lanes)."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed hash is a mismatch, never an error page."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password for a first admin: 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


# A hash verified when the user name is unknown, so both answers take the same time.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
