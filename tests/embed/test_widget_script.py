"""/embed/<public_key>.js: the static widget with its product's config inlined, safely."""

from __future__ import annotations

import json
import re

import pytest

from products.services import product_create

pytestmark = pytest.mark.django_db


def _config(source: str) -> dict:
    return json.loads(re.search(r"const CONFIG = (\{.*?\});\n", source).group(1))


def test_script_carries_the_products_config_and_a_socket_on_the_same_host(client, make_team, make_widget_product):
    product = make_widget_product(make_team("Acme"))
    response = client.get(f"/embed/{product.public_key}.js")
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert _config(response.content.decode()) == {
        "publicKey": product.public_key,
        "socketUrl": f"ws://testserver/ws/widget/{product.public_key}/",
        "allowedUrl": f"http://testserver/embed/{product.public_key}/allowed/",
        "feedbackUrl": f"http://testserver/embed/{product.public_key}/feedback/",
        "title": "Shop helper",
        "placeholder": "What to announce…",
        "greeting": "",
        "task": "generate",
    }
    secure = client.get(f"/embed/{product.public_key}.js", secure=True)
    assert _config(secure.content.decode())["socketUrl"].startswith("wss://testserver/")


def test_a_product_name_cannot_end_the_script_or_inject_markup(client, make_team):
    team = make_team("Acme")
    name = '</script>\u2028<script>alert("x")</script>'
    product = product_create(team=team, user=team.memberships.get().user, kind_id="copywriting",
                             template_id="social-post", name=name)
    source = client.get(f"/embed/{product.public_key}.js").content.decode()
    assert "</script>" not in source and "<script>" not in source and "\u2028" not in source
    assert _config(source)["title"] == name


def test_unknown_key_gets_a_script_comment_that_says_what_to_do(client, db):
    response = client.get("/embed/pk_unknown.js")
    assert response.status_code == 404
    assert response.content.decode() == (
        "/* Unknown widget key: copy the script tag again from the product's Embed tab. */")


def test_text_products_get_the_markdown_libraries_inlined_in_the_widgets_own_scope_and_gzipped(
    client, make_team, make_widget_product,
):
    product = make_widget_product(make_team("Acme"))
    source = client.get(f"/embed/{product.public_key}.js").content.decode()
    # The renderer, the Markdown helper and both libraries, each with exports/module/define hidden, so
    # their UMD wrappers register on the widget's private globalThis, never on the page or its AMD loader.
    for marker in ("@license DOMPurify 3.5.0", "e.markdownit=t()", "globalThis.studioMarkdown ??=",
                   "(globalThis.studioRenderers ??= {}).text"):
        assert marker in source
    assert source.count("((exports, module, define) => {") == 4
    assert "sourceMappingURL" not in source
    zipped = client.get(f"/embed/{product.public_key}.js", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    # The budget: what a visitor downloads (README states the sizes).
    assert len(source.encode()) < 170_000 and len(zipped.content) < 64_000


def test_a_classifier_widget_carries_no_markdown_libraries(client, make_team):
    team = make_team("Acme")
    product = product_create(team=team, user=team.memberships.get().user, kind_id="classification",
                             template_id="support-routing")
    source = client.get(f"/embed/{product.public_key}.js").content.decode()
    assert "(globalThis.studioRenderers ??= {}).label" in source and "DOMPurify" not in source
    assert len(source.encode()) < 30_000
