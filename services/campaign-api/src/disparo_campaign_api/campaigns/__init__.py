"""Campaigns: lifecycle, templates, audience snapshot, scheduler, fan-out and completion.

Owns the ``campaigns`` and ``campaign_recipients`` tables and the ``messages.requested`` events a
campaign stages. May import ``segments`` (to compile an audience), the service's top-level helpers
and ``disparo_shared``; never ``contacts``' or ``messages``' modules.
"""
