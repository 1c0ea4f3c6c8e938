"""The interface in the user's language: their browser's by default, their own choice once
they make one, kept across requests."""

from litestar.testing import TestClient

from disparo_console.auth.roles import Role
from disparo_console.auth.users import create_user

from ..conftest import PASSWORD, csrf_of, log_in


def test_the_browser_picks_the_language_until_the_user_chooses_one(console_client: TestClient):
    ctx = console_client.app.state.console
    console_client.blocking_portal.call(
        create_user, ctx.db(), "lia", "Lia", Role.VIEWER, PASSWORD, ctx.clock()
    )
    assert log_in(console_client, "lia").status_code in (302, 303)
    english = {"Accept-Language": "en-US,en;q=0.9"}

    page = console_client.get("/usuarios", headers=english)  # a viewer's 403 page
    assert '<html lang="en">' in page.text and "Your role does not allow this action." in page.text
    assert "Seu perfil não permite" in console_client.get("/usuarios").text  # default: pt-BR

    chosen = console_client.post(
        "/preferencias/idioma",
        data={"_csrf": csrf_of(page.text), "idioma": "en", "voltar": "//elsewhere.example"},
        follow_redirects=False,
    )
    assert chosen.status_code in (302, 303) and chosen.headers["location"] == "/"
    again = console_client.get("/usuarios", headers={"Accept-Language": "pt-BR"})
    assert '<html lang="en">' in again.text  # the choice beats the browser
    assert '<option value="en" lang="en" selected>' in again.text

    console_client.post("/preferencias/idioma", data={"_csrf": csrf_of(again.text), "idioma": ""})
    assert '<html lang="pt-BR">' in console_client.get("/usuarios").text
