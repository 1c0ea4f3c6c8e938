"""campaign-api: contacts, segments, campaigns and one-off messages, grouped by feature.

``contacts/``, ``segments/``, ``campaigns/`` and ``messages/`` each own their tables and their HTTP
edge; ``campaigns`` may read ``segments``, nothing else crosses between them. The modules at
this level are the wiring (``app``, ``routes``, ``subscribers``, ``workers``, ``spec``), the
settings, and the helpers every edge shares (``dependencies``, ``pagination``, ``idempotency``,
``housekeeping``).
"""
