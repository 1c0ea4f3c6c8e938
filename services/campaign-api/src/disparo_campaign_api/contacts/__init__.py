"""Contacts (the doctors): their fields, phones, consent history, bulk import and replies.

Owns the ``contacts`` and ``opt_outs`` tables and every write to them: the HTTP edge, the streamed
import, opt-out/opt-in (ours, and those the dispatcher reports), and what message events change
(``last_inbound_at``, ``last_outbound_at``, ``last_contact_at``, the opt-out words).
May import the service's top-level helpers (``pagination``, ``idempotency``, ``dependencies``,
``settings``) and ``disparo_shared``; never ``segments``, ``campaigns`` or ``messages``.
"""
