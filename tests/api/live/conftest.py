"""One live studio (daphne, embedded worker, real model) for every test here: real clients over real HTTP.

Package scope, so the model loads once for the official ``openai`` client and schemathesis alike. Only
tests in this folder run while it is up: its embedded worker would otherwise answer other tests'
requests on the shared channel layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import studio_process


@pytest.fixture(scope="package")
def live_studio_env() -> dict[str, str]:
    return {
        # Every generate call counts against the key's limit, so a fuzzer can start only a few real generations.
        "STUDIO_API_PER_MINUTE": "5",
    }


@pytest.fixture(scope="package")
def live_studio(django_db_setup, live_studio_env: dict[str, str], live_media_root: Path) -> Iterator[str]:
    with studio_process(MEDIA_ROOT=str(live_media_root), **live_studio_env) as url:
        yield url
