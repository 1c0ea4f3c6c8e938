"""The interface's catalogues: the same keys in every language, the same placeholders in each
text, and the language a user reads chosen from their preference and their browser."""

import json
import string

import pytest

from disparo_console.i18n import CATALOGUE_DIR, LOCALES, choose_locale


def _catalogue(locale: str) -> dict[str, str]:
    return json.loads((CATALOGUE_DIR / f"{locale}.json").read_text(encoding="utf-8"))


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_there_is_one_catalogue_file_per_locale_and_no_other():
    assert sorted(p.stem for p in CATALOGUE_DIR.glob("*.json")) == sorted(LOCALES)


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "pt-BR"])
def test_every_key_is_in_both_catalogues_with_the_same_placeholders(locale: str):
    reference, other = _catalogue("pt-BR"), _catalogue(locale)
    assert sorted(set(reference) - set(other)) == [], f"missing in {locale}"
    assert sorted(set(other) - set(reference)) == [], f"only in {locale}"
    differ = {
        key: (_placeholders(reference[key]), _placeholders(other[key]))
        for key in reference
        if _placeholders(reference[key]) != _placeholders(other[key])
    }
    assert differ == {}
    assert [k for k, v in other.items() if not v.strip()] == []


def test_a_users_preference_wins_then_their_browser_then_the_default():
    assert choose_locale("en", "pt-BR", "pt-BR") == "en"
    assert choose_locale(None, "en-US,en;q=0.9,pt;q=0.8", "pt-BR") == "en"
    assert choose_locale(None, "fr-FR, pt;q=0.5", "pt-BR") == "pt-BR"
    assert choose_locale(None, "pt;q=0.4, en;q=0.6", "pt-BR") == "en"
    assert choose_locale(None, "de, *;q=0.1", "pt-BR") == "pt-BR"
    assert choose_locale(None, "en;q=0", "pt-BR") == "pt-BR"
    assert choose_locale(None, None, "pt-BR") == "pt-BR"
    assert choose_locale("xx", "en", "pt-BR") == "en"
