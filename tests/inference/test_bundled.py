from __future__ import annotations

import time
from pathlib import Path

import pytest

from inference.install import _install_atomically, install_bundled_models
from inference.registry import BASE_MODELS, DEFAULT_MODEL_ID, ModelNotInstalled, model_path


def test_model_path_names_the_install_command_when_the_model_is_missing(tmp_path):
    with pytest.raises(ModelNotInstalled) as error:
        model_path(tmp_path, DEFAULT_MODEL_ID)

    assert str(error.value) == (
        f"Model 'smollm2-135m-instruct' is not installed in {tmp_path}; "
        "run `python -m studio` or `manage.py install_models` to install it."
    )


def test_model_path_rejects_an_unknown_model_id(tmp_path):
    with pytest.raises(KeyError, match="known models: all-minilm-l6-v2, smollm2-135m-instruct"):
        model_path(tmp_path, "gpt-17")


def test_registry_lists_the_default_chat_model_and_the_embedding_model():
    assert {m.id: m.task for m in BASE_MODELS.values()} == {
        "smollm2-135m-instruct": "causal-lm",
        "all-minilm-l6-v2": "embeddings",
    }


def test_failed_install_leaves_neither_the_model_nor_a_temporary_folder(tmp_path):
    def crash(out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _install_atomically(tmp_path / "model", crash)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.model
def test_second_install_is_a_fast_no_op_and_both_models_are_complete(models_dir):
    messages: list[str] = []

    started = time.monotonic()
    paths = install_bundled_models(models_dir, log=messages.append)

    assert time.monotonic() - started < 0.5
    assert messages == []
    assert paths == {model_id: models_dir / model_id for model_id in BASE_MODELS}
    assert (paths["smollm2-135m-instruct"] / "model.safetensors").is_file()
    assert (paths["smollm2-135m-instruct"] / "chat_template.jinja").is_file()
    assert (paths["all-minilm-l6-v2"] / "model.safetensors").is_file()
    assert model_path(models_dir, DEFAULT_MODEL_ID) == paths[DEFAULT_MODEL_ID]
