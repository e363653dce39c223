"""The widget script served at /embed/<public_key>.js: the static widget with its product's config."""

from __future__ import annotations

import functools
import json
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders

CONFIG_PLACEHOLDER = "/*STUDIO_WIDGET_CONFIG*/null"
# Characters that could end a <script> block or a JS string when the config is inlined.
JS_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


@functools.lru_cache(maxsize=1)
def _cached_source() -> str:
    return _read_source()


def _read_source() -> str:
    path = finders.find("products/widget.js")
    if not path:
        raise RuntimeError("products/static/products/widget.js is missing; reinstall the studio.")
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    if CONFIG_PLACEHOLDER not in source:
        raise RuntimeError(f"widget.js must contain {CONFIG_PLACEHOLDER!r} where the config goes.")
    return source


def widget_script(config: dict[str, Any]) -> str:
    source = _read_source() if settings.DEBUG else _cached_source()
    return source.replace(CONFIG_PLACEHOLDER, json.dumps(config, ensure_ascii=False).translate(JS_ESCAPES), 1)
