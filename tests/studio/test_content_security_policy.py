"""Every response carries a Content-Security-Policy; the studio's own pages need no inline script or style."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.processes import ROOT

pytestmark = pytest.mark.django_db
STUDIO_POLICY = (
    "default-src 'self'; script-src 'self'; img-src 'self' data:; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; style-src 'self'; "
    "connect-src 'self' ws://testserver wss://testserver"
)
INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "on* handler": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
    "hx-on": re.compile(r"\shx-on[:-]", re.I),
    "style attribute": re.compile(r"<[^>]+\sstyle\s*=", re.I),
    "<style> element": re.compile(r"<style[\s>]", re.I),
}


def _policy(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))


def test_studio_pages_get_the_strict_policy(owner_client):
    response = owner_client.get(reverse("dashboard", args=[owner_client.team.slug]))
    assert response["Content-Security-Policy"] == STUDIO_POLICY
    assert _policy(owner_client.get("/no-such-page/"))["style-src"] == "'self'"  # the error pages too


def test_the_api_docs_and_the_admin_get_their_own_policies(client):
    docs, redoc, admin = (_policy(client.get(url)) for url in ("/api/docs/", "/api/redoc/", "/admin/login/"))
    assert docs == redoc
    assert docs["script-src"] == "'self'" and docs["style-src"] == "'self' 'unsafe-inline'"
    assert docs["worker-src"] == "'self' blob:" and docs["frame-ancestors"] == "'none'"
    assert admin["script-src"] == "'self'" and admin["style-src"] == "'self' 'unsafe-inline'"
    assert "worker-src" not in admin


def test_the_api_docs_pages_run_no_inline_script(client):
    for url in ("/api/docs/", "/api/redoc/"):
        page = client.get(url).content.decode()
        assert not INLINE["inline <script>"].search(page), url
        assert "fonts.googleapis.com" not in page  # nothing from another origin


def test_no_studio_template_has_inline_script_handlers_or_style():
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        if template.parts[-2] == "drf_spectacular":
            continue  # a vendored UI under its own policy
        text, name = template.read_text(), template.relative_to(ROOT)
        offenders += [f"{name}: {what}" for what, pattern in INLINE.items() if pattern.search(text)]
    assert offenders == []
