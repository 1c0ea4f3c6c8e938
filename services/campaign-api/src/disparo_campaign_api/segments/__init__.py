"""Segments: the filter language, saved and predefined segments, audience previews.

Owns the ``segments`` table and the compilation of a filter into SQL over ``contacts`` (read
only). May import the service's top-level helpers and ``disparo_shared``; never ``contacts``'
writers, ``campaigns`` or ``messages`` (campaigns import segments, not the other way).
"""
