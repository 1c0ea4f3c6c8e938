"""Follow-up texts: Portuguese defaults per stage and the one placeholder they may use.

Only ``{nome}`` is allowed (validated when settings load), and rendering is a plain replace,
never ``str.format``, so a stray brace or ``{0.__class__}`` in a text is just text. Without a
name the placeholder goes with the space before it: "Oi {nome}, tudo bem?" → "Oi, tudo bem?".
"""

import re

from disparo_shared.events import ConversationStage

PLACEHOLDER = "{nome}"
_ANY_PLACEHOLDER = re.compile(r"\{[^{}]*\}")

DEFAULT_TEXTS: dict[ConversationStage, str] = {
    ConversationStage.FIRST_CONTACT: (
        "Oi {nome}, tudo bem? Conseguiu ver a vaga de plantão que te mandei?"
    ),
    ConversationStage.INTERESTED: (
        "Oi {nome}! Ficou alguma dúvida sobre o plantão? Posso te ajudar a garantir a vaga."
    ),
    ConversationStage.OFFER_MADE: (
        "Oi {nome}, tudo certo? Conseguiu avaliar a proposta do plantão? "
        "Se precisar, ajusto algum detalhe."
    ),
}


def unknown_placeholders(text: str) -> list[str]:
    """Placeholders other than ``{nome}``; a text with any is rejected at start."""
    return [p for p in _ANY_PLACEHOLDER.findall(text) if p != PLACEHOLDER]


def render(text: str, name: str | None) -> str:
    """``text`` with the contact's first name in place of ``{nome}``."""
    first_name = (name or "").strip().split(" ")[0]
    if first_name:
        return text.replace(PLACEHOLDER, first_name)
    return text.replace(" " + PLACEHOLDER, "").replace(PLACEHOLDER, "")
