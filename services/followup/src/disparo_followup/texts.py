"""Follow-up texts: the spec's Portuguese defaults, their placeholders, the variant a
conversation gets, and the check a text must pass.

Placeholders mean what they mean in campaign templates: ``{nome}`` is the doctor's name as
imported, ``{primeiro_nome}`` its first word; without a name both read "Dr(a).". Literal
braces are written ``{{`` and ``}}``. The syntax, and the check a text must pass, are the shared
ones of every template (``disparo_shared.template_syntax``, through
``disparo_shared.followup_plans.followup_text_problem``); rendering walks the parsed parts,
never ``str.format``, so a text cannot reach attributes or crash on a stray brace.

Each attempt has several variants; a conversation always gets the same one for a given
attempt (a hash of the conversation id and the attempt), so a retried request sends the same
words while different doctors, and a second reminder, read differently.
"""

import hashlib
from uuid import UUID

from disparo_shared.events import ConversationStage
from disparo_shared.followup_plans import (
    FIRST_CONTACT_TEXTS,
    FOLLOWUP_PLACEHOLDERS,
    followup_text_problem,
)
from disparo_shared.template_syntax import Placeholder, parse_template_syntax

PLACEHOLDERS = FOLLOWUP_PLACEHOLDERS
FALLBACK_NAME = "Dr(a)."

# The spec's texts (S5.E2.3) come first in each attempt; the others say the same in other words.
DEFAULT_TEXTS: dict[ConversationStage, tuple[tuple[str, ...], ...]] = {
    ConversationStage.PRIMEIRO_CONTATO: FIRST_CONTACT_TEXTS[:2],
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


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a follow-up text, naming the 1-based position, or None.

    E.g. ``"Oi {nome"`` → ``"position 4: a { that is never closed …"``.
    """
    return followup_text_problem(text)


def render(text: str, name: str | None) -> str:
    """``text`` with the doctor's name in its placeholders and literal braces unescaped."""
    full = " ".join((name or "").split())
    values = {
        "nome": full or FALLBACK_NAME,
        "primeiro_nome": full.split(" ")[0] if full else FALLBACK_NAME,
    }
    parts = parse_template_syntax(text, lambda n: n in PLACEHOLDERS, "")
    return "".join(values[p.name] if isinstance(p, Placeholder) else p for p in parts)


def pick_variant(variants: tuple[str, ...], conversation_id: UUID, attempt: int) -> str:
    """The variant this conversation gets at ``attempt``: stable for the pair, spread over all."""
    digest = hashlib.sha256(f"{conversation_id}:{attempt}".encode()).digest()
    return variants[int.from_bytes(digest[:8], "big") % len(variants)]
