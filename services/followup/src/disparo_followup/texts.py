"""Follow-up texts: the spec's Portuguese defaults, their placeholders, the variant a
conversation gets, and the check a text must pass.

Placeholders mean what they mean in campaign templates: ``{nome}`` is the doctor's name as
imported, ``{primeiro_nome}`` its first word; without a name both read "Dr(a).". Literal
braces are written ``{{`` and ``}}``. Rendering is a plain scan, never ``str.format``, so a text
cannot reach attributes or crash on a stray brace.

Each attempt has several variants; a conversation always gets the same one for a given
attempt (a hash of the conversation id and the attempt), so a retried request sends the same
words while different doctors, and a second reminder, read differently.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from uuid import UUID

from disparo_shared.events import ConversationStage

PLACEHOLDERS = ("nome", "primeiro_nome")
FALLBACK_NAME = "Dr(a)."
MAX_TEXT_LENGTH = 4096

# The spec's texts (S5.E2.3) come first in each attempt; the others say the same in other words.
DEFAULT_TEXTS: dict[ConversationStage, tuple[tuple[str, ...], ...]] = {
    ConversationStage.PRIMEIRO_CONTATO: (
        (
            "Oi {nome}! Vi que mandei msg outro dia mas não deu pra gente conversar. "
            "Ainda tem interesse em plantão?",
            "Oi {nome}, tudo bem? Te mandei uma mensagem outro dia e acho que ficou perdida. "
            "Ainda tem interesse em plantão?",
            "{nome}, tudo certo? Passando pra retomar a mensagem que te mandei sobre plantões. "
            "Ainda faz sentido pra você?",
        ),
        (
            "E aí {nome}, tudo bem? Só passando pra ver se conseguiu ver as vagas que te mandei. "
            "Qualquer coisa só falar!",
            "Oi {nome}! Conseguiu dar uma olhada nas vagas de plantão que te mandei? "
            "Qualquer dúvida é só me chamar!",
            "{nome}, pra não te incomodar: se quiser saber das vagas de plantão, é só responder "
            "essa mensagem!",
        ),
    ),
    ConversationStage.POS_INTERESSE: (
        (
            "Oi {nome}! Então, conseguiu pensar sobre aquela vaga? "
            "To aqui se precisar de mais info!",
            "Oi {nome}, tudo bem? Pensou sobre a vaga que conversamos? Te passo mais detalhes "
            "se quiser!",
            "E aí {nome}! Ficou alguma dúvida sobre aquela vaga? To por aqui pra ajudar.",
        ),
    ),
    ConversationStage.POS_OFERTA: (
        (
            "{nome}, a vaga que te ofereci ainda tá aberta! Se tiver interesse me avisa que "
            "reservo pra vc",
            "Oi {nome}! A vaga que te ofereci continua disponível. Se quiser, já deixo reservada "
            "pra você.",
            "{nome}, tudo bem? Ainda consigo segurar aquela vaga pra você, é só me avisar!",
        ),
    ),
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class TextProblem:
    """Why a text is refused, at which character (0-based)."""

    position: int
    reason: str


def text_problem(text: str) -> TextProblem | None:
    """The first thing wrong with ``text`` as a follow-up text, or None.

    E.g. ``"Oi {nome"`` → position 3, an unmatched ``{``; ``"Oi {}"`` → an empty placeholder.
    """
    if not text.strip():
        return TextProblem(0, "the text is blank")
    if len(text) > MAX_TEXT_LENGTH:
        return TextProblem(MAX_TEXT_LENGTH, f"longer than {MAX_TEXT_LENGTH} characters")
    for i, char in enumerate(text):
        if unicodedata.category(char) == "Cc" and char not in "\n\t":
            return TextProblem(i, f"control character U+{ord(char):04X}")
    for token in _TOKEN.finditer(text):
        raw = token.group(0)
        if raw in ("{{", "}}"):
            continue
        if raw == "{":
            return TextProblem(token.start(), "unmatched '{' (write '{{' for a literal brace)")
        if raw == "}":
            return TextProblem(token.start(), "unmatched '}' (write '}}' for a literal brace)")
        name = token.group(1)
        if not name.strip():
            return TextProblem(token.start(), "empty placeholder '{}'")
        if name not in PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            return TextProblem(token.start(), f"unknown placeholder {raw}; allowed: {allowed}")
    return None


def render(text: str, name: str | None) -> str:
    """``text`` with the doctor's name in its placeholders and literal braces unescaped."""
    full = " ".join((name or "").split())
    values = {
        "nome": full or FALLBACK_NAME,
        "primeiro_nome": full.split(" ")[0] if full else FALLBACK_NAME,
    }

    def replace(token: re.Match[str]) -> str:
        raw = token.group(0)
        if raw in ("{{", "}}"):
            return raw[0]
        return values.get(token.group(1) or "", raw)

    return _TOKEN.sub(replace, text)


def pick_variant(variants: tuple[str, ...], conversation_id: UUID, attempt: int) -> str:
    """The variant this conversation gets at ``attempt``: stable for the pair, spread over all."""
    digest = hashlib.sha256(f"{conversation_id}:{attempt}".encode()).digest()
    return variants[int.from_bytes(digest[:8], "big") % len(variants)]
