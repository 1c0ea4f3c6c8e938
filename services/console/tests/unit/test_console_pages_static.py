"""What every page is made of: catalogue keys that exist, no inline script or style, and
vendored files that match their recorded checksums."""

import hashlib
import json
import re
from pathlib import Path

from disparo_console.i18n import CATALOGUE_DIR

PACKAGE = Path(__file__).parents[2] / "src" / "disparo_console"
TEMPLATES = sorted((PACKAGE / "templates").rglob("*.html"))
SOURCES = sorted((PACKAGE / "pages").glob("*.py"))
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
KEY_IN_CODE = re.compile(
    r"""["']((?:error|login|users|campaign|segment|import)\.[a-z_.]+)(?<!\.html)["']"""
)


def test_every_key_a_template_or_page_names_is_in_the_pt_br_catalogue():
    catalogue = json.loads((CATALOGUE_DIR / "pt-BR.json").read_text(encoding="utf-8"))
    named = set()
    for path in TEMPLATES:
        named |= set(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    for path in SOURCES:
        named |= set(KEY_IN_CODE.findall(path.read_text(encoding="utf-8")))
    assert named, "no key found: the pattern is wrong"
    assert sorted(named - set(catalogue)) == []


def test_templates_have_no_inline_script_style_or_event_handler():
    for path in TEMPLATES:
        html = path.read_text(encoding="utf-8")
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, path.name
        assert re.search(r"<style\b|\sstyle=", html) is None, path.name
        assert re.search(r"\son[a-z]+=", html) is None, path.name


def test_every_form_that_posts_carries_the_csrf_field():
    for path in TEMPLATES:
        html = path.read_text(encoding="utf-8")
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
            assert 'name="_csrf"' in form, f"{path.name}: {form[:80]}"


def test_vendored_assets_match_their_recorded_checksums():
    vendor = PACKAGE / "static" / "vendor"
    sums = dict(
        reversed(line.split()) for line in (vendor / "SHA256SUMS").read_text().splitlines() if line
    )
    assert set(sums) == {"htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css", "simple.min.css"}
    for name, expected in sums.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == expected, name


def test_every_label_points_at_a_control_of_its_template():
    for path in TEMPLATES:
        html = path.read_text(encoding="utf-8")
        ids = set(re.findall(r'\sid="([^"]+)"', html))
        for target in re.findall(r'<label for="([^"]+)"', html):
            assert target in ids, f"{path.name}: label for {target} has no control"
