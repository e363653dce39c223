"""The widget script served at /embed/<public_key>.js: the static widget, its kind's renderer and its config.

The renderer and what it needs (markdown-it and DOMPurify for text) are the same static files the
playground loads (products/static/products/renderers/, vendor/): inlined here inside the widget's own
scope, so a customer's page gets one script and no global. Each file runs with ``exports``, ``module``
and ``define`` hidden, so a library's UMD wrapper registers itself on the widget's private ``globalThis``
(never on the page's, nor with the page's AMD loader).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders

CONFIG_PLACEHOLDER = "/*STUDIO_WIDGET_CONFIG*/null"
RENDERER_PLACEHOLDER = "/*STUDIO_RENDERER*/"
END_SCRIPT = re.compile(r"</(script)", re.IGNORECASE)
# Characters that could end a <script> block or a JS string when the config is inlined.
JS_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


@functools.lru_cache(maxsize=16)
def _cached(path: str) -> str:
    return _read(path)


def _read(path: str) -> str:
    found = finders.find(path)
    if not found:
        raise RuntimeError(f"The static file {path} is missing; reinstall the studio.")
    with open(found, encoding="utf-8") as handle:
        return handle.read()


def _source(path: str) -> str:
    return _read(path) if settings.DEBUG else _cached(path)


def _inlined(path: str) -> str:
    # "<\/script" means "</script" in a JS string or regular expression, and cannot end a page's <script> block.
    return END_SCRIPT.sub(r"<\\/\1", f"((exports, module, define) => {{\n{_source(path)}\n}})();")


def widget_script(*, config: dict[str, Any], scripts: Sequence[str]) -> str:
    """The widget with ``scripts`` (static paths: the kind's renderer_scripts) inlined and ``config`` filled in."""
    source = _source("products/widget.js")
    for placeholder in (CONFIG_PLACEHOLDER, RENDERER_PLACEHOLDER):
        if placeholder not in source:
            raise RuntimeError(f"widget.js must contain {placeholder!r}.")
    source = source.replace(RENDERER_PLACEHOLDER, "\n".join(_inlined(path) for path in scripts), 1)
    return source.replace(CONFIG_PLACEHOLDER, json.dumps(config, ensure_ascii=False).translate(JS_ESCAPES), 1)
