"""The interface's text, from one catalogue file per locale (``catalogue/pt-BR.json``).

Templates and handlers name a key, never a sentence: ``t("campaigns.title")`` is "Campanhas".
A missing key raises, so a page never shows a key in place of text; the tests check that every
key a template names exists. An English catalogue is another file with the same keys.
"""

import json
from functools import cache
from pathlib import Path

CATALOGUE_DIR = Path(__file__).parent / "catalogue"


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
