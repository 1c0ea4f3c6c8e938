"""When an inbound message means "stop writing to me": the opt-out words rule, pure.

The rule is a whole-message match: after normalisation (case, accents, punctuation, emoji and
spacing removed) and after dropping polite words at either end ("por favor", "obrigado",
"bom dia"…), what is left must be exactly one of the configured phrases. So "PARAR",
"Parar!!", "sair, por favor", "Bom dia. Não quero mais." opt out, while "não quero parar de
receber plantões", "quando posso sair do plantão?" or "pode parar o carro ali" do not.

Why not "contains a stop word": a doctor who mentions leaving a shift would be silently and
permanently dropped — a false positive costs a recruiter a doctor and cannot be noticed. A
longer message that does ask to stop still reaches the recruiter (AI or human), who can opt the
contact out through the API; the short, unambiguous replies — nearly all real opt-outs — are
caught here without anyone.
"""

import re
import unicodedata
from collections.abc import Iterable

_NOT_WORD = re.compile(r"[^a-z0-9]+")

# Words that do not change the meaning of a short reply when they open or close it.
POLITE_WORDS = frozenset(
    {
        "por", "favor", "porfavor", "pf", "pfv", "pfvr", "please", "pls", "plz",
        "obrigado", "obrigada", "obg", "obgd", "grato", "grata", "agradeco",
        "ok", "oi", "ola", "ei", "bom", "boa", "dia", "tarde", "noite",
        "dr", "dra", "doutor", "doutora", "ja", "so", "e", "eu",
    }
)  # fmt: skip


def normalize_text(text: str) -> str:
    """Lower case, no accents, words separated by one space:
    "NÃO quero MAIS!!" → "nao quero mais".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    without_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", without_accents.casefold()).strip()


def _strip_polite_words(words: list[str]) -> list[str]:
    start, end = 0, len(words)
    while start < end and words[start] in POLITE_WORDS:
        start += 1
    while end > start and words[end - 1] in POLITE_WORDS:
        end -= 1
    return words[start:end]


class OptOutPhrases:
    """The configured phrases, normalised once; ``match`` says which one a message is."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = frozenset(p for p in (normalize_text(x) for x in phrases) if p)

    def match(self, body: str) -> str | None:
        """The normalised phrase ``body`` amounts to, or None when it is not an opt-out."""
        words = normalize_text(body).split()
        if len(words) > 12:  # longer than any phrase plus greetings: never an opt-out
            return None
        core = " ".join(_strip_polite_words(words))
        return core if core in self._phrases else None
