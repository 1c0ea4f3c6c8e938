"""The interface's text, from one catalogue file per locale (``catalogue/pt-BR.json``,
``catalogue/en.json``), chosen per user.

Templates and handlers name a key, never a sentence: ``t("campaigns.title")`` is "Campanhas"
(or "Campaigns"). A missing key raises, so a page never shows a key in place of text; the tests
check that every key a template names exists, and that both catalogues have the same keys with
the same ``{placeholders}``. A user's language is their preference when they set one, else the
first of their browser's Accept-Language that we have, else the console's default (pt-BR).
"""

import json
from functools import cache
from pathlib import Path

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
LOCALES = ("pt-BR", "en")


class Catalogue:
    def __init__(self, locale: str, entries: dict[str, str]) -> None:
        self.locale = locale
        self.entries = entries

    def __call__(self, key: str, **values: object) -> str:
        """The text of ``key`` with ``{name}`` fields filled: t("x", n="1.240")."""
        try:
            text = self.entries[key]
        except KeyError:
            raise KeyError(f"catalogue {self.locale} has no text for {key!r}") from None
        return text.format(**values) if values else text


@cache
def load_catalogue(locale: str) -> Catalogue:
    path = CATALOGUE_DIR / f"{locale}.json"
    return Catalogue(locale, json.loads(path.read_text(encoding="utf-8")))


def choose_locale(preference: str | None, accept_language: str | None, default: str) -> str:
    """The catalogue a user reads: ``choose_locale(None, "en-US,en;q=0.9,pt;q=0.8", "pt-BR")``
    is "en"; a language we lack is skipped ("fr, pt" is "pt-BR"); a user's preference wins."""
    if preference in LOCALES:
        return preference
    for language in _by_weight(accept_language or ""):
        found = next((loc for loc in LOCALES if loc.lower() == language), None) or next(
            (loc for loc in LOCALES if loc.split("-")[0].lower() == language.split("-")[0]),
            None,
        )
        if found:
            return found
    return default


def _by_weight(header: str) -> list[str]:
    """Accept-Language's languages, preferred first (``q`` weights; ``*`` and q=0 left out)."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        language, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if language and language != "*" and weight > 0:
            weighted.append((-weight, position, language.lower()))
    return [language for _, _, language in sorted(weighted)]
