"""Usuários: admins add users, change roles and turn access off (ending the user's sessions)."""

import uuid

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from disparo_console.auth.passwords import MIN_PASSWORD_LENGTH
from disparo_console.auth.roles import Permission, Role
from disparo_console.auth.users import change_access, create_user, list_users
from disparo_console.web import console, current_session, form_values, page, requires


async def _users_page(request: Request, status_code: int = 200, **context) -> Template:
    return page(
        request,
        "users.html",
        status_code=status_code,
        users=await list_users(console(request).db()),
        roles=[r.value for r in Role],
        min_password=MIN_PASSWORD_LENGTH,
        **context,
    )


@get("/usuarios", guards=[requires(Permission.MANAGE_USERS)])
async def users_page(request: Request) -> Template:
    return await _users_page(request)


@post("/usuarios", guards=[requires(Permission.MANAGE_USERS)])
async def add_user(request: Request) -> Response:
    form = form_values(await request.form())
    username = form.get("username", "").strip().lower()
    display_name = form.get("display_name", "").strip() or username
    password = form.get("password", "")
    errors = []
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        errors.append("users.error.username")
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append("users.error.password")
    if form.get("role") not in [r.value for r in Role]:
        errors.append("users.error.role")
    if not errors:
        created = await create_user(
            console(request).db(),
            username,
            display_name,
            Role(form["role"]),
            password,
            console(request).clock(),
        )
        if created is None:
            errors.append("users.error.taken")
    if errors:
        return await _users_page(request, status_code=422, errors=errors, draft=form)
    return Redirect("/usuarios")


@post("/usuarios/{user_id:uuid}", guards=[requires(Permission.MANAGE_USERS)])
async def change_user(request: Request, user_id: FromPath[uuid.UUID]) -> Response:
    form = form_values(await request.form())
    if form.get("role") not in [r.value for r in Role]:
        return await _users_page(request, status_code=422, errors=["users.error.role"])
    if user_id == current_session(request).user_id:
        return await _users_page(request, status_code=422, errors=["users.error.self"])
    await change_access(
        console(request).db(),
        user_id,
        Role(form["role"]),
        form.get("active") == "on",
        console(request).clock(),
    )
    return Redirect("/usuarios")
