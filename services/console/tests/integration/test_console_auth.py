"""Logging in, sessions, the login rate limit, CSRF and roles, against a real Postgres."""

import re

from litestar.testing import TestClient

from disparo_console.auth.roles import Role
from disparo_console.auth.sessions import COOKIE
from disparo_console.auth.users import create_user, ensure_first_admin
from disparo_console.auth.users import log_in as check_login

from ..conftest import PASSWORD, csrf_of, log_in


def add_user(client: TestClient, username: str, role: Role) -> None:
    ctx = client.app.state.console
    client.blocking_portal.call(
        create_user, ctx.db(), username, username.title(), role, PASSWORD, ctx.clock()
    )


def test_right_password_opens_a_session_and_a_wrong_one_does_not(console_client):
    add_user(console_client, "ana", Role.RECRUITER)

    wrong = log_in(console_client, "ana", "not-her-password")
    assert wrong.status_code == 401
    assert "Usuário ou senha incorretos." in wrong.text
    assert console_client.get("/medicos/importar", follow_redirects=False).status_code == 302

    right = log_in(console_client, "ana")
    assert right.status_code == 302
    assert console_client.cookies.get(COOKIE)
    page = console_client.get("/medicos/importar")
    assert page.status_code == 200
    assert "Importar médicos (CSV)" in page.text


def test_sixth_wrong_password_is_refused_without_being_checked(console_client):
    add_user(console_client, "bia", Role.VIEWER)
    for _ in range(5):
        assert log_in(console_client, "bia", "wrong-password").status_code == 401

    blocked = log_in(console_client, "bia")  # even the right password waits
    assert blocked.status_code == 429
    assert "Muitas tentativas" in blocked.text

    console_client.app.state.console.clock.advance(minutes=16)
    assert log_in(console_client, "bia").status_code == 302


def test_login_form_without_its_own_token_is_refused(console_client):
    add_user(console_client, "caio", Role.ADMIN)
    console_client.get("/entrar")
    answer = console_client.post(
        "/entrar", data={"_csrf": "forged", "username": "caio", "password": PASSWORD}
    )
    assert answer.status_code == 403
    assert not console_client.cookies.get(COOKIE)


def test_a_form_posted_without_the_csrf_token_is_refused(console_client):
    add_user(console_client, "duda", Role.ADMIN)
    log_in(console_client, "duda")
    form = {"username": "eva", "display_name": "Eva", "role": "viewer", "password": PASSWORD}

    refused = console_client.post("/usuarios", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    assert "eva" not in console_client.get("/usuarios").text

    token = csrf_of(console_client.get("/usuarios").text)
    accepted = console_client.post(
        "/usuarios", data={**form, "_csrf": token}, follow_redirects=False
    )
    assert accepted.status_code == 302
    assert "eva" in console_client.get("/usuarios").text


def test_a_viewer_is_refused_a_campaign_start_before_any_service_is_called(console_client):
    add_user(console_client, "fabi", Role.VIEWER)
    log_in(console_client, "fabi")
    campaign = "00000000-0000-4000-8000-000000000001"
    answer = console_client.post(
        f"/campanhas/{campaign}/comando/start",
        data={"_csrf": _session_csrf(console_client)},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "Seu perfil não permite esta ação." in answer.text
    assert console_client.get("/usuarios").status_code == 403


def _session_csrf(client: TestClient) -> str:
    ctx = client.app.state.console
    row = client.blocking_portal.call(
        ctx.db().fetchrow, "SELECT csrf_token FROM sessions ORDER BY created_at DESC LIMIT 1"
    )
    return row["csrf_token"]


def test_a_session_ends_after_an_idle_hour_and_at_logout(console_client):
    add_user(console_client, "gil", Role.ADMIN)
    log_in(console_client, "gil")
    assert console_client.get("/usuarios").status_code == 200

    console_client.app.state.console.clock.advance(minutes=61)
    assert console_client.get("/usuarios", follow_redirects=False).status_code == 302

    log_in(console_client, "gil")
    token = csrf_of(console_client.get("/usuarios").text)
    console_client.post("/sair", data={"_csrf": token}, follow_redirects=False)
    assert console_client.get("/usuarios", follow_redirects=False).status_code == 302


def test_turning_a_user_off_ends_their_sessions(console_client):
    add_user(console_client, "hugo", Role.ADMIN)
    add_user(console_client, "iris", Role.RECRUITER)
    log_in(console_client, "hugo")
    users_page = console_client.get("/usuarios").text
    token = csrf_of(users_page)
    iris_id = re.search(
        r'action="/usuarios/([0-9a-f-]+)"[^>]*>\s*<input[^>]*>\s*'
        r'<label for="role-\1">Perfil de iris',
        users_page,
    )
    assert iris_id, "the users page lists iris with a form"
    changed = console_client.post(
        f"/usuarios/{iris_id.group(1)}",
        data={"_csrf": token, "role": "recruiter"},
        follow_redirects=False,
    )
    assert changed.status_code == 302
    ctx = console_client.app.state.console
    outcome = console_client.blocking_portal.call(
        check_login, ctx.db(), "iris", PASSWORD, "10.0.0.1", ctx.clock(), ctx.settings
    )
    assert outcome.user_id is None


def test_first_admin_is_made_once_with_a_password_that_logs_in(console_client):
    ctx = console_client.app.state.console
    password = console_client.blocking_portal.call(ensure_first_admin, ctx.db(), ctx.clock())
    assert password and len(password) >= 20
    assert console_client.blocking_portal.call(ensure_first_admin, ctx.db(), ctx.clock()) is None
    assert log_in(console_client, "admin", password).status_code == 302


def test_every_answer_carries_a_strict_content_security_policy(console_client):
    answer = console_client.get("/entrar")
    policy = answer.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy
        and "unsafe-eval" not in policy
    )
    assert answer.headers["x-frame-options"] == "DENY"
    assert re.search(r"<script(?![^>]*\bsrc=)", answer.text) is None
    assert console_client.get("/static/console.css").headers["content-security-policy"] == policy
