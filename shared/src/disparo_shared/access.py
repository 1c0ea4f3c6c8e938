"""Which scope each route needs, and the guard that holds every route to it.

A route declares ``opt={"scope": "campaigns:write"}``; a router or controller may declare a
``resource`` instead (``opt={"resource": "contacts"}``), and then reads need
``contacts:read`` and writes ``contacts:write``. A route that declares neither gets the
default for its method: ``read`` for GET/HEAD/OPTIONS, ``admin`` for anything that changes
state. So a route added without thought is closed to everyone but admins, never open.
A derived scope that does not exist (``reports:write``) is ``admin`` too.
"""

from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from disparo_shared.api_keys import ADMIN, SCOPES, ApiKeyEntry

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_SCOPE_BY_METHOD = {
    "GET": "read",
    "HEAD": "read",
    "OPTIONS": "read",
    "POST": ADMIN,
    "PUT": ADMIN,
    "PATCH": ADMIN,
    "DELETE": ADMIN,
}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key, and the console user it speaks for when it may."""

    key: ApiKeyEntry
    acting_user: str | None


def required_scope(handler: BaseRouteHandler, method: str) -> str:
    """The scope ``method`` on ``handler`` needs (see module docstring)."""
    declared = handler.opt.get("scope")
    if declared:
        return declared
    resource = handler.opt.get("resource")
    if resource:
        derived = f"{resource}:{'read' if method in SAFE_METHODS else 'write'}"
        return derived if derived in SCOPES else ADMIN
    return DEFAULT_SCOPE_BY_METHOD.get(method, ADMIN)


def caller_grants(connection: ASGIConnection, scope: str) -> bool:
    """Whether the request's key holds ``scope`` (for what a route shows, e.g. phones)."""
    caller = connection.scope.get("user")
    return isinstance(caller, Caller) and caller.key.grants(scope)


def require_route_scope(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard of every route: the caller's key must grant the route's scope (403 otherwise).

    Open routes (health, metrics, webhooks) have no caller and are left alone.
    """
    caller = connection.scope.get("user")
    if not isinstance(caller, Caller):
        return
    scope = required_scope(handler, connection.scope["method"])
    if not caller.key.grants(scope):
        raise PermissionDeniedException(
            f"API key {caller.key.name!r} lacks the {scope!r} scope this route needs"
        )
