"""Template syntax (positions of every fault) and cutting text on a grapheme boundary."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disparo_shared.template_syntax import (
    Placeholder,
    TemplateSyntaxError,
    cut_at_grapheme,
    parse_template_syntax,
)

KNOWN = {"nome", "primeiro_nome"}


def parse(source: str):
    return parse_template_syntax(source, KNOWN.__contains__, "{nome}, {primeiro_nome}")


def test_text_placeholders_and_escapes():
    assert parse("Oi {nome}, vaga {{urgente}}") == (
        "Oi ",
        Placeholder("nome"),
        ", vaga {urgente}",
    )
    assert parse("{{{nome}}}") == ("{", Placeholder("nome"), "}")
    assert parse("") == ()


@pytest.mark.parametrize(
    ("source", "position", "words"),
    [
        ("{}", 1, "empty placeholder"),
        ("Oi {nome", 4, "never closed"),
        ("Oi }", 4, "closes nothing"),
        ("{nome {primeiro_nome}}", 7, "inside the placeholder opened at position 1"),
        ("{cidade}", 1, "unknown placeholder {cidade}; allowed: {nome}, {primeiro_nome}"),
        ("a\x00", 2, "U+0000"),
        ("a\x7f", 2, "U+007F"),
        ("😀😀 {", 4, "never closed"),  # positions count characters, not bytes
    ],
)
def test_each_fault_names_its_position(source, position, words):
    with pytest.raises(TemplateSyntaxError) as info:
        parse(source)
    assert info.value.position == position
    assert info.value.reason.startswith(f"position {position}: ")
    assert words in info.value.reason


# clusters a reader sees as one character, each several code points
CLUSTERS = [
    "a",
    "é",
    "e\u0301",  # e + combining acute
    "😀",
    "👍🏽",  # thumbs up, skin tone
    "👩\u200d💻",  # woman technologist (ZWJ)
    "👨\u200d👩\u200d👧\u200d👦",  # family
    "🇧🇷",  # flag: two regional indicators
    "1\ufe0f\u20e3",  # keycap 1
    "❤\ufe0f",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England (tags)
    " ",
    "\n",
]


def test_cut_never_splits_a_cluster_examples():
    assert cut_at_grapheme("Oi 👍🏽", 4) == "Oi "
    assert cut_at_grapheme("Oi 👍🏽", 5) == "Oi 👍🏽"
    assert cut_at_grapheme("x🇧🇷", 2) == "x"
    assert cut_at_grapheme("🇧🇷🇵🇹", 3) == "🇧🇷"
    assert cut_at_grapheme("xe\u0301", 2) == "x"
    assert cut_at_grapheme("👩\u200d💻!", 2) == ""
    assert cut_at_grapheme("abc", 0) == ""


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(CLUSTERS), max_size=40), st.integers(0, 200))
def test_cut_is_a_whole_cluster_prefix_within_the_limit(clusters, limit):
    text = "".join(clusters)
    cut = cut_at_grapheme(text, limit)
    assert len(cut) <= limit
    prefixes = {"".join(clusters[:i]) for i in range(len(clusters) + 1)}
    assert cut in prefixes
    # and the longest such prefix: nothing whole that fits is dropped
    assert cut == max((p for p in prefixes if len(p) <= limit), key=len)
