"""One message to send, accepted over HTTP (``POST /v1/messages``) and staged for the dispatcher.

Owns nothing in Postgres but its outbox rows and idempotency keys. May import the service's
top-level helpers and ``disparo_shared``; never ``contacts``, ``segments`` or ``campaigns``.
"""
