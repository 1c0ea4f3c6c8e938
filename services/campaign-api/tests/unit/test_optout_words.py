"""The opt-out words rule: whole-message match after normalisation and polite words."""

import pytest

from disparo_campaign_api.contacts.optout_words import OptOutPhrases, normalize_text
from disparo_campaign_api.settings import DEFAULT_OPT_OUT_PHRASES

PHRASES = OptOutPhrases(DEFAULT_OPT_OUT_PHRASES)


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ("PARAR", "parar"),
        ("parar.", "parar"),
        ("  Parar!!! 🙏", "parar"),
        ("SAIR", "sair"),
        ("Stop", "stop"),
        ("cancelar", "cancelar"),
        ("DESCADASTRAR", "descadastrar"),
        ("NÃO QUERO MAIS", "nao quero mais"),
        ("Não quero mais receber", "nao quero mais receber"),
        ("nao quero mais receber!!", "nao quero mais receber"),
        ("Sair, por favor", "sair"),
        ("Bom dia. Não quero mais, obrigada", "nao quero mais"),
        ("Por favor, me tire da lista", "me tire da lista"),
        ("Dra. Ana aqui: parar", None),  # "aqui" is not a polite word: left to the recruiter
    ],
)
def test_stop_messages_match_their_phrase(body, phrase):
    assert PHRASES.match(body) == phrase


@pytest.mark.parametrize(
    "body",
    [
        "Não quero parar de receber plantões",
        "Quando posso sair do plantão?",
        "Pode parar o carro ali na frente",
        "Tenho interesse, pode mandar mais",
        "Stop by tomorrow?",
        "",
        "😀",
        "sair " * 20,
    ],
)
def test_messages_that_mention_a_stop_word_do_not_opt_out(body):
    assert PHRASES.match(body) is None


def test_normalisation_drops_case_accents_and_punctuation():
    assert normalize_text("  NÃO, quero... MAIS!! ") == "nao quero mais"
    assert normalize_text("Descadastrar-me") == "descadastrar me"


def test_configured_phrases_are_normalised_too():
    phrases = OptOutPhrases(["CHEGA DE MENSAGEM", "  "])
    assert phrases.match("chega de mensagem!") == "chega de mensagem"
    assert phrases.match("parar") is None
