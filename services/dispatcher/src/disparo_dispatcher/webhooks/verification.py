"""Proofs that a webhook comes from the provider, since these routes skip the API-key check.

Cloud API: ``X-Hub-Signature-256: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes with
the app secret; comparing it in constant time means a forger learns nothing from response times.
Evolution API: the instance's ``apikey`` travels in a header or in the body; it must equal the
configured webhook key. The GET handshake Meta makes when a webhook URL is registered answers
``hub.challenge`` only to someone who knows the verify token. An empty secret (unset outside
production) verifies nothing: no signature, no key and no token matches it.
"""

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def cloud_signature(app_secret: str, raw_body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``raw_body``."""
    return SIGNATURE_PREFIX + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def cloud_signature_is_valid(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    if not app_secret or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = cloud_signature(app_secret, raw_body)
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


def evolution_key_is_valid(expected: str, *candidates: object) -> bool:
    """Whether any of the given keys (header, body field) equals ``expected``."""
    if not expected:
        return False
    wanted = expected.encode()
    return any(
        isinstance(candidate, str) and hmac.compare_digest(candidate.encode(), wanted)
        for candidate in candidates
    )


def cloud_handshake_challenge(
    verify_token: str, mode: str | None, token: str | None, challenge: str | None
) -> str | None:
    """The challenge to echo when Meta's subscription handshake is genuine, else None."""
    if not verify_token or mode != "subscribe" or token is None or challenge is None:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge
