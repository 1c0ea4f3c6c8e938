"""The user's own preferences: the interface's language (any role may set their own)."""

from litestar import Request, get, post
from litestar.response import Redirect

from disparo_console.db import SQL
from disparo_console.i18n import LOCALES
from disparo_console.web import console, current_session, form_values

FOLLOW_THE_BROWSER = ""


def _back_to(target: str) -> str:
    """Only a path of this console (never another site: ``//host`` or a full URL)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@post("/preferencias/idioma")
async def set_language(request: Request) -> Redirect:
    """``idioma`` is a locale of the catalogues, or empty to follow the browser again."""
    form = form_values(await request.form())
    chosen = form.get("idioma", FOLLOW_THE_BROWSER)
    locale = chosen if chosen in LOCALES else None
    ctx = console(request)
    await ctx.db().execute(
        SQL.set_user_locale, current_session(request).user_id, locale, ctx.clock()
    )
    return Redirect(_back_to(form.get("voltar", "/")))


@get("/preferencias/idioma")
async def language_form_target() -> Redirect:
    """A GET here (a bookmarked form target) goes to the panel."""
    return Redirect("/")
