"""The edge every page shares: who is asking, CSRF, role guards, rendering, security headers.

``authenticate`` is the first guard of every route: static files and the login page are open;
any other path needs a live session (else a redirect to ``/entrar``), and any unsafe method
needs the session's CSRF token, from the ``_csrf`` form field or the ``X-CSRF-Token`` header (htmx).
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from disparo_console import formatting
from disparo_console.auth.roles import Permission, may
from disparo_console.auth.sessions import COOKIE, Session, csrf_matches, find_session
from disparo_console.clients.services import Services
from disparo_console.context import ConsoleContext
from disparo_console.i18n import Catalogue, choose_locale, load_catalogue
from disparo_shared.privacy import mask_phone

OPEN_PREFIXES = ("/static/", "/entrar", "/health", "/ready")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def console(request: ASGIConnection) -> ConsoleContext:
    return request.app.state.console


def catalogue_for(request: ASGIConnection) -> Catalogue:
    """The text in the user's language: their preference, else their browser's, else pt-BR."""
    session = getattr(request.state, "session", None)
    locale = choose_locale(
        session.locale if session else None,
        request.headers.get("accept-language"),
        console(request).settings.locale,
    )
    return load_catalogue(locale)


def current_session(request: ASGIConnection) -> Session:
    return request.state.session


def services(request: ASGIConnection) -> Services:
    session = current_session(request)
    return console(request).connections.for_user(session.username, session.role)


class LoginRequired(Exception):
    """No live session: the exception handler redirects to the login page."""


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token."""


async def authenticate(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """First guard of every route: a session for closed paths, a CSRF token for unsafe methods."""
    path = connection.url.path
    if path != "/" and path.startswith(OPEN_PREFIXES):
        return
    ctx = console(connection)
    session = await find_session(
        ctx.db(),
        connection.cookies.get(COOKIE),
        ctx.clock(),
        ctx.session_idle,
        ctx.session_lifetime,
    )
    if session is None:
        raise LoginRequired()
    connection.state.session = session
    method = connection.scope.get("method", "GET")
    if method not in SAFE_METHODS:
        given = connection.headers.get(CSRF_HEADER)
        if not given and isinstance(connection, Request):
            given = (await connection.form()).get(CSRF_FIELD)
        if not csrf_matches(session.csrf_token, given if isinstance(given, str) else None):
            raise CsrfRefused()


def login_required(request: Request, _: LoginRequired) -> Response:
    target = f"/entrar?proximo={quote(request.url.path)}"
    if request.headers.get("HX-Request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": target})
    return Redirect(target)


def csrf_refused(request: Request, _: CsrfRefused) -> Response:
    return page(request, "error.html", status_code=403, message_key="error.csrf")


def requires(permission: Permission) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A route guard: 403 unless the user's role has ``permission``."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if not may(current_session(connection).role, permission):
            raise PermissionDeniedException(f"role lacks {permission}")

    return guard


def page(
    request: ASGIConnection, template: str, status_code: int = 200, **context: Any
) -> Template:
    """Render ``template`` with what every page shows: the user, the CSRF token, the helpers."""
    ctx = console(request)
    session = getattr(request.state, "session", None)
    zone = ctx.zone
    return Template(
        template_name=template,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
        context={
            "t": catalogue_for(request),
            "session": session,
            "csrf": session.csrf_token if session else "",
            "can": (lambda p: may(session.role, Permission(p))) if session else (lambda p: False),
            "number": formatting.number,
            "percent": formatting.percent,
            "date_time": lambda v: formatting.date_time(v, zone),
            "duration": formatting.duration,
            "age": formatting.age,
            "masked": mask_phone,
            "path": request.url.path,
            "poll_seconds": ctx.settings.poll_seconds,
            **context,
        },
    )


def form_values(form: Any) -> dict[str, str]:
    """A posted form as plain strings (the last value of a repeated field wins)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


def security_headers(app: ASGIApp) -> ASGIApp:
    """Adds the CSP and the other protective headers to every HTTP answer."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
