"""How large a request body may be, decided from the method and path before any of it is stored.

The server layer (studio/server.py) asks this while the headers arrive, because under daphne the
whole body is buffered before the application runs: a Django check would come after the copy.
"""

from __future__ import annotations

from urllib.parse import unquote

from django.conf import settings
from django.urls import Resolver404, resolve

# The routes that take a dataset file (pages and API). Every other route takes form- or JSON-sized bodies.
UPLOAD_ROUTE_NAMES = frozenset({"dataset_upload", "dataset_version_upload", "api_datasets", "api_dataset_versions"})
MULTIPART_ENVELOPE = 1024 * 1024  # the form's other fields and the multipart boundaries around the file


def is_upload_route(method: str, path: str) -> bool:
    if method != "POST":
        return False
    try:
        match = resolve(unquote(path.split("?", 1)[0]))
    except Resolver404:
        return False
    return match.url_name in UPLOAD_ROUTE_NAMES


def body_limit_bytes(method: str, path: str) -> int:
    if is_upload_route(method, path):
        return settings.MAX_UPLOAD_BYTES + MULTIPART_ENVELOPE
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


def body_too_large_message(method: str, path: str) -> str:
    if is_upload_route(method, path):
        return (
            f"This upload is larger than the studio accepts ({_megabytes(settings.MAX_UPLOAD_BYTES)} a file). "
            "Split it into smaller files, or ask whoever runs the studio to raise STUDIO_MAX_UPLOAD_MB."
        )
    return (
        f"This request is larger than the studio accepts here ({_megabytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}). "
        "Only dataset uploads may be larger."
    )
