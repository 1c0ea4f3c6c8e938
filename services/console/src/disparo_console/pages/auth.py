"""Log in and out. The login form carries its own CSRF token (a cookie and a field that must
match), since there is no session yet to hold one."""

import secrets
from datetime import datetime
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from disparo_console.auth.sessions import COOKIE, close_session, csrf_matches, open_session
from disparo_console.auth.users import log_in
from disparo_console.web import console, form_values, page

LOGIN_CSRF_COOKIE = "disparo_console_login"


def _safe_next(target: str | None) -> str:
    """Only a path of this site: "/campanhas" stays, "//evil" and "https://…" become "/"."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _cookie(request: Request, key: str, value: str, max_age: int | None) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        httponly=True,
        secure=console(request).settings.secure_cookies,
        samesite="lax",
        path="/",
    )


def _login_page(request: Request, status_code: int = 200, **context) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        status_code=status_code,
        login_csrf=token,
        proximo=_safe_next(request.query_params.get("proximo")),
        **context,
    )
    response.cookies.append(_cookie(request, LOGIN_CSRF_COOKIE, token, max_age=3600))
    return response


@get("/entrar")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@post("/entrar")
async def login(
    request: Request,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response:
    ctx = console(request)
    form = form_values(data)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("_csrf")):
        return _login_page(request, status_code=403, error_key="error.csrf")
    username = form.get("username", "").strip()
    now: datetime = ctx.clock()
    address = request.client.host if request.client else "unknown"
    outcome = await log_in(ctx.db(), username, form.get("password", ""), address, now, ctx.settings)
    if outcome.retry_after is not None:
        minutes = max(1, int(outcome.retry_after.total_seconds() // 60) + 1)
        return _login_page(
            request, status_code=429, error_key="login.too_many", minutes=minutes, username=username
        )
    if outcome.user_id is None:
        return _login_page(request, status_code=401, error_key="login.failed", username=username)
    token = await open_session(
        ctx.db(), outcome.user_id, now, ctx.session_idle, ctx.session_lifetime
    )
    response = Redirect(_safe_next(form.get("proximo")))
    response.cookies.append(_cookie(request, COOKIE, token, max_age=None))
    response.cookies.append(_cookie(request, LOGIN_CSRF_COOKIE, "", max_age=0))
    return response


@post("/sair")
async def logout(request: Request) -> Response:
    await close_session(console(request).db(), request.cookies.get(COOKIE))
    response = Redirect("/entrar")
    response.cookies.append(_cookie(request, COOKIE, "", max_age=0))
    return response
