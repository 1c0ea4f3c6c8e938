"""The SQL renderer (used by fan-out and previews) agrees with the Python reference renderer."""

import json
import random

import pytest

from disparo_campaign_api.campaigns.templates import (
    MAX_BODY_LENGTH,
    load_template,
    parse_template,
    render_sql,
)
from disparo_campaign_api.segments.filters import Parameters
from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings
from disparo_shared.template_syntax import cut_at_grapheme

CLUSTERS = [
    "a", "é", "e\u0301", "😀", "👍🏽", "👩\u200d💻", "👨\u200d👩\u200d👧\u200d👦", "🇧🇷", "🇵🇹",
    "1\ufe0f\u20e3", "❤\ufe0f", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    " ", "\u200c",
]  # fmt: skip

PIECES = [
    "Olá ", "{nome}", "{primeiro_nome}", "{especialidade}", "{regiao}", "{attr.hospital}",
    "{attr.n}", "{attr.ok}", "{attr.obj}", "{attr.missing}", "{{", "}}", "{", "}", " ", "\t",
    "{0.__class__}", "{nome!r}", "{nome:>99}", "$1", "'; DROP TABLE contacts; --", "ç ã 😀",
    "\\", "%s", "{attr.a-b}", "\u00a0",
]  # fmt: skip
NAMES = [
    None, "", "  ", "Ana Souza", "\tAna\nSouza ", "\u00a0Ana", "A" * 300, "'; --", "Zé",
    "A" * 199 + "👍🏽", "A" * 198 + "🇧🇷x", "Ana " + "👩\u200d💻" * 60,
]  # fmt: skip
VALUES = ["São Luiz", "  x  ", "", 3, 2.5, -7, True, False, None, {"a": 1}, [1, 2], "{nome}"]


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), "campaign_api")
    yield pool
    await pool.close()


async def test_sql_and_python_renderers_agree(pool):
    rng = random.Random(20261125)
    fallbacks = {"nome": "Dr(a).", "primeiro_nome": "Doutor(a)", "attr.hospital": "nosso hospital"}
    contacts = []
    for i in range(60):
        attributes = {
            "hospital": rng.choice(VALUES),
            "n": rng.choice(VALUES),
            "ok": rng.choice(VALUES),
        }
        attributes["obj"] = rng.choice(VALUES)
        contact = {
            "name": rng.choice(NAMES),
            "specialty": rng.choice(NAMES),
            "region": rng.choice(NAMES),
            "attributes": attributes,
        }
        contact["id"] = await pool.fetchval(
            "INSERT INTO contacts (phone, name, specialty, region, attributes)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            f"+551190000{i:04d}",
            contact["name"],
            contact["specialty"],
            contact["region"],
            attributes,
        )
        contacts.append(contact)
    for _ in range(80):
        source = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
        template = load_template(source)
        params = Parameters(first_index=1)
        body = render_sql(template, params.add, fallbacks)
        rows = await pool.fetch(f"SELECT c.id, {body} AS body FROM contacts c", *params.values)
        got = {r["id"]: r["body"] for r in rows}
        for contact in contacts:
            expected = template.render(contact, fallbacks)
            assert got[contact["id"]] == expected, (source, json.dumps(contact, default=str))


async def test_sql_cut_at_grapheme_agrees_with_python(pool):
    rng = random.Random(7)
    texts = ["".join(rng.choice(CLUSTERS) for _ in range(rng.randint(0, 30))) for _ in range(400)]
    limits = [rng.randint(0, 40) for _ in texts]
    rows = await pool.fetch(
        "SELECT cut_at_grapheme(t, n) AS cut FROM unnest($1::text[], $2::int[]) AS x(t, n)",
        texts,
        limits,
    )
    for text, limit, row in zip(texts, limits, rows, strict=True):
        assert row["cut"] == cut_at_grapheme(text, limit), (text, limit)


async def test_a_long_message_is_cut_on_a_grapheme_boundary_in_both_renderers(pool):
    name = "Ana Sou👍🏽zz"
    contact_id = await pool.fetchval(
        "INSERT INTO contacts (phone, name) VALUES ('+5511900000001', $1) RETURNING id", name
    )
    # 4088 characters of text, then the name: the 4096th character is the thumb, its skin tone
    # the 4097th, so the cut falls inside the emoji and moves before it
    template = parse_template("x" * (MAX_BODY_LENGTH - 9) + " {nome}")
    params = Parameters(first_index=2)
    body = render_sql(template, params.add)
    got = await pool.fetchval(
        f"SELECT {body} FROM contacts c WHERE c.id = $1", contact_id, *params.values
    )
    expected = template.render({"name": name})
    assert got == expected == "x" * (MAX_BODY_LENGTH - 9) + " Ana Sou"
