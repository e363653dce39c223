"""The base-model registry: which models exist, their ids, and where an installed one lives.

Pure: no loading or converting code, no torch, so the web tier may import it (forms list the models,
dataset validation finds the tokenizer file). Installing the bundled models is inference/install.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inference.model_folder import ModelFolderError, is_local, resolve

INSTALL_HINT = "run `python -m studio` or `manage.py install_models`"


@dataclass(frozen=True, slots=True)
class BaseModel:
    """One entry of the base-model registry."""

    id: str
    task: str  # "causal-lm" or "embeddings"
    label: str
    description: str


BASE_MODELS: dict[str, BaseModel] = {
    m.id: m
    for m in (
        BaseModel(
            id="smollm2-135m-instruct",
            task="causal-lm",
            label="SmolLM2 135M Instruct",
            description="Small chat model; fast on CPU, good for drafts and fine-tuning.",
        ),
        BaseModel(
            id="all-minilm-l6-v2",
            task="embeddings",
            label="all-MiniLM-L6-v2",
            description="Sentence embeddings for retrieval and recommendations.",
        ),
    )
}
DEFAULT_MODEL_ID = "smollm2-135m-instruct"
EMBEDDING_MODEL_ID = "all-minilm-l6-v2"


class ModelNotInstalled(LookupError):
    """A registered model whose files are not in the models directory yet."""


def model_path(models_dir: Path, model_id: str) -> Path:
    """Return the installed directory of `model_id`, or raise with the command that fixes it.

    A registered model of the operator's folder (``local:<name>``) resolves there with its checks
    (inference/model_folder.py); only a Hugging Face folder has a directory torch loads.
    """
    if is_local(model_id):
        try:
            candidate, path = resolve(Path(models_dir), model_id)
        except ModelFolderError as exc:
            raise ModelNotInstalled(str(exc)) from None
        if candidate.format != "hf":
            raise ModelNotInstalled(f"“{candidate.name}” is a GGUF model: llama.cpp serves it, but torch cannot "
                                    "load or fine-tune it. Register its Hugging Face folder for that.")
        return path
    if model_id not in BASE_MODELS:
        known = ", ".join(sorted(BASE_MODELS))
        raise KeyError(f"Unknown base model {model_id!r}; known models: {known}.")
    path = Path(models_dir) / model_id
    if not (path / "config.json").is_file():
        raise ModelNotInstalled(
            f"Model {model_id!r} is not installed in {models_dir}; {INSTALL_HINT} to install it."
        )
    return path
