"""Message templates: the spec's ``{nome}`` placeholders, checked on create, rendered safely.

Syntax is ``disparo_shared.template_syntax`` (the follow-up texts share it): ``{{``/``}}`` for
literal braces, and a 422 naming the position for an empty ``{}``, an unmatched brace, a
placeholder inside a placeholder, an unknown name or a control character. Never ``str.format``,
which would evaluate ``{0.__class__}``, ``{nome!r}`` or ``{nome:>99999}``. The names, and what
they mean — the same in campaigns and follow-ups:

- ``{nome}`` — the contact's name as stored, whole ("Ana Souza"; an import's ``nome``,
  ``nome_completo`` or ``primeiro_nome`` column — the spec's ``clientes`` table fills {nome} from
  ``primeiro_nome``, and importing that column gives the same text);
- ``{primeiro_nome}`` — its first word ("Ana");
- ``{especialidade}``, ``{regiao}``; ``{attr.NAME}`` — the custom attribute ``NAME``.

Rendering substitutes values only — never looks anything up on an object — and is total: a
template stored before the syntax was strict renders what it cannot read literally rather than
failing a fan-out (``load_template``). A missing
or empty value becomes the placeholder's fallback (settings ``template_fallbacks``; by default
``{nome}``/``{primeiro_nome}`` → "Dr(a).", the others → empty text), so "Olá {nome}!" to a contact
without a name reads "Olá Dr(a).!". Values are trimmed of ASCII whitespace; ``{primeiro_nome}`` is
the first run of non-whitespace; attributes render text as is, numbers as written, booleans as
sim/não, and objects or lists not at all. Each value is cut to ``MAX_VALUE_LENGTH`` characters
and the message to ``MAX_BODY_LENGTH`` (WhatsApp's text limit), both on a grapheme boundary
(``cut_at_grapheme``: never inside an emoji, a flag or an accented letter).

There are two renderers of the same parts with the same rules: ``Template.render`` in Python, and
``render_sql``, which compiles the template into a SQL text expression over ``contacts c`` so a
fan-out renders a million messages inside Postgres (cutting with the SQL ``cut_at_grapheme`` of
migration 123). The SQL holds literals and fallbacks only as ``$n`` parameters and reaches only
the four columns and ``attributes`` below; a test checks the two renderers agree.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from disparo_shared.template_syntax import (
    Part,
    Placeholder,
    TemplateSyntaxError,
    cut_at_grapheme,
    parse_template_syntax,
)

MAX_TEMPLATE_LENGTH = 4096
MAX_BODY_LENGTH = 4096
MAX_VALUE_LENGTH = 200
ATTRIBUTE_PREFIX = "attr."
STANDARD_PLACEHOLDERS = ("nome", "primeiro_nome", "especialidade", "regiao")
ALLOWED_DESCRIPTION = "{nome}, {primeiro_nome}, {especialidade}, {regiao}, {attr.<campo>}"
DEFAULT_FALLBACKS: dict[str, str] = {"nome": "Dr(a).", "primeiro_nome": "Dr(a)."}

WHITESPACE = " \t\n\r\f\v"
_FIRST_WORD = re.compile(r"[^ \t\n\r\f\v]+")

# One pass, left to right: an escape, or a brace pair holding no brace and no whitespace.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\s]{1,100})\}")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class TemplateError(ValueError):
    """A template cannot be accepted; ``reason`` says why in terms the author can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_known_placeholder(name: str) -> bool:
    if name in STANDARD_PLACEHOLDERS:
        return True
    return name.startswith(ATTRIBUTE_PREFIX) and bool(
        _ATTRIBUTE_NAME.match(name[len(ATTRIBUTE_PREFIX) :])
    )


def tokenize(template: str) -> tuple[tuple[Part, ...], tuple[str, ...]]:
    """Split into literal text and known placeholders; also return the unknown candidates.

    The lenient reading of stored templates: unknown candidates and stray braces stay in the parts
    as their literal text. For a template ``parse_template`` accepts, it gives the same parts.
    """
    parts: list[Part] = []
    unknown: list[str] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        literal.append(template[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "{{":
            literal.append("{")
        elif token == "}}":
            literal.append("}")
        elif is_known_placeholder(match.group(1)):
            parts.append("".join(literal))
            literal = []
            parts.append(Placeholder(match.group(1)))
        else:
            unknown.append(match.group(1))
            literal.append(token)
    literal.append(template[position:])
    parts.append("".join(literal))
    return tuple(p for p in parts if p != ""), tuple(unknown)


@dataclass(frozen=True)
class Template:
    """A checked template, tokenized once and rendered per recipient."""

    source: str
    parts: tuple[Part, ...]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.name for p in self.parts if isinstance(p, Placeholder)))

    def render(
        self, contact: Mapping[str, Any], fallbacks: Mapping[str, str] = DEFAULT_FALLBACKS
    ) -> str:
        """The message for one contact (keys: name, specialty, region, attributes)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = cut_at_grapheme(_value(part.name, contact), MAX_VALUE_LENGTH)
            out.append(value or fallbacks.get(part.name, ""))
        return cut_at_grapheme("".join(out), MAX_BODY_LENGTH)


def parse_template(source: str) -> Template:
    """Accept a template for storage: non-blank, bounded, valid syntax, every placeholder known.

    ``TemplateError.reason`` names the position, e.g. "position 4: a { that is never closed".
    """
    if not isinstance(source, str) or not source.strip():
        raise TemplateError("the template must not be empty")
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"at most {MAX_TEMPLATE_LENGTH} characters")
    try:
        parts = parse_template_syntax(source, is_known_placeholder, ALLOWED_DESCRIPTION)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.reason) from None
    return Template(source, parts)


def load_template(source: str) -> Template:
    """A stored template for rendering; never fails (unknown placeholders render literally)."""
    return Template(source, tokenize(source)[0])


def _value(name: str, contact: Mapping[str, Any]) -> str:
    if name == "nome":
        return _text(contact.get("name"))
    if name == "primeiro_nome":
        first = _FIRST_WORD.search(_text(contact.get("name")))
        return first.group(0) if first else ""
    if name == "especialidade":
        return _text(contact.get("specialty"))
    if name == "regiao":
        return _text(contact.get("region"))
    attributes = contact.get("attributes")
    if not isinstance(attributes, Mapping):
        return ""
    return _text(attributes.get(name[len(ATTRIBUTE_PREFIX) :]))


def _text(value: Any) -> str:
    """Scalars only: text as is, numbers in plain form, booleans as sim/não; anything else empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, str):
        return value.strip(WHITESPACE)
    if isinstance(value, int | float):
        return str(value)
    return ""


# ---------------------------------------------------------------------------------------------
# The same rendering as a SQL expression

_SQL_WHITESPACE = r"E' \t\n\r\f\v'"
_COLUMN_SQL = {
    "nome": f"btrim(c.name, {_SQL_WHITESPACE})",
    "primeiro_nome": r"substring(c.name from '[^ \t\n\r\f\v]+')",
    "especialidade": f"btrim(c.specialty, {_SQL_WHITESPACE})",
    "regiao": f"btrim(c.region, {_SQL_WHITESPACE})",
}


def _attribute_sql(key: str) -> str:
    value = f"(c.attributes -> {key})"
    return (
        f"CASE jsonb_typeof({value})"
        f" WHEN 'string' THEN btrim({value} #>> '{{}}', {_SQL_WHITESPACE})"
        f" WHEN 'number' THEN {value} #>> '{{}}'"
        f" WHEN 'boolean' THEN CASE WHEN {value}::boolean THEN 'sim' ELSE 'não' END END"
    )


def render_sql(
    template: Template, add_param, fallbacks: Mapping[str, str] = DEFAULT_FALLBACKS
) -> str:
    """A SQL text expression equal to ``template.render(c, fallbacks)`` for a row of ``contacts c``.

    ``add_param(value, cast)`` registers a parameter and returns its placeholder (e.g.
    ``segments.filters.Parameters.add``). Example: "Olá {nome}!" becomes ``left($1::text ||
    coalesce(nullif(left(btrim(c.name, …), 200), ''), $2::text) || $3::text, 4096)``.
    """
    pieces: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            pieces.append(add_param(part, "text"))
            continue
        value = placeholder_value_sql(part.name, add_param)
        fallback = add_param(fallbacks.get(part.name, ""), "text")
        pieces.append(f"coalesce({value}, {fallback})")
    if not pieces:
        return "''::text"
    body = " || ".join(pieces)
    if _longest_body(template, fallbacks) <= MAX_BODY_LENGTH:
        return body  # cannot exceed the limit: no cut to compute per recipient
    return _cut_sql(f"({body})", MAX_BODY_LENGTH)


def placeholder_value_sql(name: str, add_param) -> str:
    """A known placeholder's value for ``contacts c`` in SQL, cut to ``MAX_VALUE_LENGTH``; NULL
    when the contact has none (or only whitespace). The Cloud templates' parameters share it."""
    if name in _COLUMN_SQL:
        value = _COLUMN_SQL[name]
    else:
        value = _attribute_sql(add_param(name[len(ATTRIBUTE_PREFIX) :], "text"))
    return f"nullif({_cut_sql(value, MAX_VALUE_LENGTH)}, '')"


def _cut_sql(value: str, limit: int) -> str:
    """``cut_at_grapheme(value, limit)`` in SQL, the function called only for a long value."""
    return (
        f"CASE WHEN length({value}) <= {limit} THEN {value}"
        f" ELSE cut_at_grapheme({value}, {limit}) END"
    )


def _longest_body(template: Template, fallbacks: Mapping[str, str]) -> int:
    """The most characters a rendering can have: literals, plus the longest each value can be."""
    return sum(
        len(part)
        if isinstance(part, str)
        else max(MAX_VALUE_LENGTH, len(fallbacks.get(part.name, "")))
        for part in template.parts
    )
