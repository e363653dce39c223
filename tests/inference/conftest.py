"""Fixtures for the generation core: the bundled models, installed once, and one engine.

Nothing here needs Django: `pytest tests/inference -p no:django` runs these alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.install import install_bundled_models
from inference.registry import DEFAULT_MODEL_ID, model_path

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The models directory (env MODELS_DIR, else var/models), with the bundled models in it."""
    path = Path(os.environ.get("MODELS_DIR") or REPO_ROOT / "var" / "models")
    install_bundled_models(path, log=lambda _message: None)
    return path


@pytest.fixture(scope="session")
def engine(models_dir: Path):
    """SmolLM2 on CPU, loaded once for the whole session."""
    from inference.engines.local import LocalEngine

    local = LocalEngine(model_path(models_dir, DEFAULT_MODEL_ID), device="cpu")
    local.loaded  # noqa: B018 - load now, so the first test does not pay for it
    return local


@pytest.fixture
def scheduler(engine) -> Iterator:
    from inference.scheduler import Scheduler

    running = Scheduler(engine, max_batch_size=8)
    yield running
    running.shutdown()



def require_llamacpp() -> None:
    """Skip when llama-cpp-python is missing, except under CI, which builds it: there it fails."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but llama-cpp-python is not installed; `python -m studio test` builds it.")
        pytest.skip("llama-cpp-python is not installed (python -m studio builds it)")


@pytest.fixture(scope="session")
def llamacpp_engine(models_dir: Path):
    """SmolLM2's bundled Q4_1 GGUF on llama.cpp, one thread, loaded once for the session."""
    require_llamacpp()
    from inference.engines.llamacpp import LlamaCppEngine
    from inference.install import bundled_gguf

    return LlamaCppEngine(bundled_gguf(DEFAULT_MODEL_ID), model_path(models_dir, DEFAULT_MODEL_ID), threads=1)


@pytest.fixture(params=["torch", "llamacpp"])
def any_engine(request):
    """Each backend in turn: the contract tests run against both."""
    return request.getfixturevalue("engine" if request.param == "torch" else "llamacpp_engine")


# A real MiniLM classifier artifact for the classify runner's tests (built once a session).
from tests.training.classifier_fixtures import classifier_artifact  # noqa: E402,F401
