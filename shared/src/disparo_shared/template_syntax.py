"""The syntax of message templates (campaign templates, follow-up texts), and cutting text safely.

Syntax only: which placeholder names exist and what they render to is each service's business
(campaign-api ``campaigns/templates.py``; followup ``texts.py``), passed in as ``is_placeholder``.

- ``{name}`` is a placeholder; ``{{`` and ``}}`` are a literal ``{`` and ``}``.
- Refused, each with the position of the offending character (``TemplateSyntaxError``, 1-based,
  counted in characters — Unicode code points — as an editor's column would on one line): an
  empty ``{}``; a ``{`` never closed; a ``}`` never opened; a ``{`` inside a placeholder (a
  placeholder inside a placeholder, ``{nome {x}}``); a name the service does not know (``{0}``,
  ``{nome.__class__}``, ``{ veja }``); a control character (anything in Unicode's Cc category
  but line feed, carriage return and tab, which a message may hold).

Example: ``"Oi {nome}, vaga {{urgente}}"`` is the text "Oi ", the placeholder ``nome``, and the
text ", vaga {urgente}"; ``"Oi {nome"`` fails at position 4 (an unclosed ``{``).

``cut_at_grapheme(text, limit)`` shortens text to at most ``limit`` characters without splitting
what a reader sees as one character: an accented letter written with a combining mark, an emoji
with its skin tone, variation selector or keycap, a ZWJ sequence (👩‍💻), a flag (two regional
indicators) or a tag sequence. It knows the combining ranges below — Latin script and emoji, what
these messages hold; other scripts' marks (Devanagari, Thai…) are not in them — and campaign-api's
SQL function ``cut_at_grapheme`` repeats the same ranges so both renderers cut alike.
"""

from collections.abc import Callable
from dataclasses import dataclass

ZWJ = "\u200d"

# Code points that belong to the character before them (Grapheme_Extend in Latin text and emoji).
EXTENDING_RANGES: tuple[tuple[int, int], ...] = (
    (0x0300, 0x036F),  # combining diacritical marks (e + U+0301 = é)
    (0x1AB0, 0x1AFF),  # combining diacritical marks extended
    (0x1DC0, 0x1DFF),  # combining diacritical marks supplement
    (0x200C, 0x200D),  # zero-width non-joiner, zero-width joiner
    (0x20D0, 0x20FF),  # combining marks for symbols (keycap U+20E3)
    (0xFE00, 0xFE0F),  # variation selectors (emoji presentation U+FE0F)
    (0xFE20, 0xFE2F),  # combining half marks
    (0x1F3FB, 0x1F3FF),  # emoji skin tone modifiers
    (0xE0020, 0xE007F),  # tags (subdivision flags such as England's)
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)  # two of them make a flag: 🇧🇷
ALLOWED_CONTROLS = frozenset("\n\r\t")


class TemplateSyntaxError(ValueError):
    """A template breaks the syntax; ``position`` is the 1-based character the reason names."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"position {position}: {reason}")
        self.position = position
        self.reason = f"position {position}: {reason}"


@dataclass(frozen=True)
class Placeholder:
    name: str


Part = str | Placeholder


def parse_template_syntax(
    source: str, is_placeholder: Callable[[str], bool], allowed: str
) -> tuple[Part, ...]:
    """Literal texts and placeholders of ``source``, or ``TemplateSyntaxError`` at the first fault.

    ``is_placeholder(name)`` says whether the service knows a name; ``allowed`` lists them for the
    error message, e.g. ``"{nome}, {primeiro_nome}"``.
    """
    parts: list[Part] = []
    literal: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "{":
            if source.startswith("{", i + 1):
                literal.append("{")
                i += 2
                continue
            end = _placeholder_end(source, i)
            name = source[i + 1 : end]
            if not is_placeholder(name):
                raise TemplateSyntaxError(
                    i + 1,
                    f"unknown placeholder {{{name}}}; allowed: {allowed}"
                    " (write {{ and }} for literal braces)",
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(name))
            i = end + 1
        elif ch == "}":
            if not source.startswith("}", i + 1):
                raise TemplateSyntaxError(
                    i + 1, "a } that closes nothing (write }} for a literal brace)"
                )
            literal.append("}")
            i += 2
        else:
            _check_character(ch, i)
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _placeholder_end(source: str, start: int) -> int:
    """Index of the ``}`` closing the placeholder opened at ``start``."""
    for j in range(start + 1, len(source)):
        ch = source[j]
        if ch == "}":
            if j == start + 1:
                raise TemplateSyntaxError(
                    start + 1, "an empty placeholder {} (write {{}} for literal braces)"
                )
            return j
        if ch == "{":
            raise TemplateSyntaxError(
                j + 1, f"a placeholder inside the placeholder opened at position {start + 1}"
            )
        _check_character(ch, j)
    raise TemplateSyntaxError(start + 1, "a { that is never closed (write {{ for a literal brace)")


def _check_character(ch: str, index: int) -> None:
    code = ord(ch)
    if (code < 0x20 or 0x7F <= code <= 0x9F) and ch not in ALLOWED_CONTROLS:
        raise TemplateSyntaxError(index + 1, f"control character U+{code:04X} is not allowed")


def is_extending(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it (see ``EXTENDING_RANGES``)."""
    code = ord(ch)
    return any(low <= code <= high for low, high in EXTENDING_RANGES)


def is_regional_indicator(ch: str) -> bool:
    return REGIONAL_INDICATORS[0] <= ord(ch) <= REGIONAL_INDICATORS[1]


def cut_at_grapheme(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, never inside a grapheme.

    The cut moves left while the first character left out extends the one before it or follows
    a ZWJ; then, if it would split a flag (an odd run of regional indicators before it), one
    more. Example: ``cut_at_grapheme("Oi 👍🏽", 4)`` is ``"Oi "``, not ``"Oi 👍"`` (skin lost).
    """
    if len(text) <= limit:
        return text
    k = max(limit, 0)
    while k > 0 and (is_extending(text[k]) or text[k - 1] == ZWJ):
        k -= 1
    if k > 0 and is_regional_indicator(text[k]):
        run = 0
        while run < k and is_regional_indicator(text[k - 1 - run]):
            run += 1
        if run % 2 == 1:
            k -= 1
    return text[:k]
