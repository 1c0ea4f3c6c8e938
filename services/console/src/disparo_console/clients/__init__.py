"""One small client per service; every call the console makes to another service is here.

When a service's API changes, its client module is the one place to adapt. Each call carries
the console's API key and names the acting user and role (``X-Acting-User``, ``X-Acting-Role``)
so the service's audit trail can record who did it.
"""
