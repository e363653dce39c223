"""Which engine serves: llama.cpp when it works, torch with one clear line when it does not."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

import studio.__main__ as launcher
from inference import runtime
from inference.engines.llamacpp import smoke_test


@pytest.fixture
def no_llamacpp(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now raises ImportError


def test_auto_falls_back_to_torch_with_one_log_line_when_llamacpp_is_missing(no_llamacpp, settings, caplog):
    settings.INFERENCE_DEVICE = "cpu"
    with caplog.at_level(logging.WARNING, logger="inference.runtime"):
        choice = runtime._decide("auto")

    assert choice.backend == "torch"
    assert "llama-cpp-python is not installed" in choice.reason
    assert [r.getMessage() for r in caplog.records] == [
        f"llama.cpp is not usable ({choice.reason.removeprefix('llama.cpp unavailable: ')}); "
        "serving with the slower torch engine."
    ]


def test_asking_for_llamacpp_when_it_is_missing_is_an_error_that_says_how_to_fix_it(no_llamacpp, settings):
    settings.INFERENCE_DEVICE = "cpu"
    with pytest.raises(RuntimeError, match="STUDIO_ENGINE=llamacpp but llama-cpp-python is not installed"):
        runtime._decide("llamacpp")


def test_torch_never_tries_llamacpp(no_llamacpp):
    assert runtime._decide("torch").backend == "torch"


def test_an_unknown_engine_name_is_refused():
    with pytest.raises(RuntimeError, match="STUDIO_ENGINE must be one of auto, llamacpp, torch"):
        runtime._decide("vllm")


def test_the_smoke_test_reports_a_broken_model_file_instead_of_crashing(tmp_path: Path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")

    problem = smoke_test(broken)

    assert problem is not None and problem.startswith("the llama.cpp smoke test failed")


def _fake_python(tmp_path: Path, monkeypatch) -> None:
    """An interpreter for the launcher on which llama_cpp never imports and every pip run fails."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(launcher, "PYTHON", fake)
    monkeypatch.setattr(launcher, "VENV", tmp_path)
    monkeypatch.setattr(launcher, "LLAMA_CPP_LOG", tmp_path / "build.log")
    monkeypatch.delenv("STUDIO_ENGINE", raising=False)


def test_under_ci_a_failed_llamacpp_build_fails_the_run(tmp_path, monkeypatch):
    _fake_python(tmp_path, monkeypatch)

    with pytest.raises(SystemExit, match="CI: building llama-cpp-python==.* failed"):
        launcher.ensure_fast_engine(ci=True)


def test_outside_ci_the_first_start_serves_with_torch_while_llamacpp_builds(tmp_path, monkeypatch, capsys):
    _fake_python(tmp_path, monkeypatch)

    launcher.ensure_fast_engine(ci=False)

    assert launcher.os.environ["STUDIO_ENGINE"] == "torch"
    assert "Serving with the torch engine while the fast llama.cpp engine builds" in capsys.readouterr().out
    monkeypatch.delenv("STUDIO_ENGINE")
