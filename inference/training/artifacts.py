"""The run's result on disk: the LoRA adapter as safetensors, written atomically, with SHA-256 hashes.

The folder is what ``LocalEngine(adapter_dir=...)`` loads (``adapter_model.safetensors`` and
``adapter_config.json``), so a product version serves it as soon as it points at the artifact;
``adapter_model.gguf`` beside them is the same adapter for the llama.cpp engine.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference.engines.gguf_export import export_for_llamacpp

WEIGHTS_FILE = "adapter_model.safetensors"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_relative_path(run_id: int) -> str:
    return f"training/artifacts/run-{run_id}"


def artifact_folder_write(*, media_root: Path, run_id: int,
                          write: Callable[[Path], None]) -> tuple[str, list[dict[str, Any]]]:
    """Have ``write`` fill a temporary folder, then make it the run's artifact folder in one rename.

    Returns the folder relative to MEDIA_ROOT and its files ``[{"name", "size", "sha256"}]``. An earlier
    attempt's folder (a resumed run) is replaced. The classifier and the recommender write theirs this way.
    """
    relative = artifact_relative_path(run_id)
    final = Path(media_root) / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-run-{run_id}-", dir=final.parent))
    try:
        write(tmp)
        tmp.chmod(0o755)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    files = [{"name": p.name, "size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(final.iterdir()) if p.is_file()]
    return relative, files


def save_adapter(model: Any, *, media_root: Path, run_id: int) -> dict[str, Any]:
    """Write the adapter under MEDIA_ROOT and return the ModelArtifact fields (path, sha256, size, files)."""
    relative = artifact_relative_path(run_id)
    final = Path(media_root) / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-run-{run_id}-", dir=final.parent))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        (tmp / "README.md").unlink(missing_ok=True)  # peft's model-card template says nothing about this run
        if not (tmp / WEIGHTS_FILE).is_file():
            raise RuntimeError(f"The adapter was not saved as {WEIGHTS_FILE}; check the installed peft version.")
        export_for_llamacpp(model, tmp)  # adapter_model.gguf, hashed below with the other files
        tmp.chmod(0o755)
        if final.exists():  # a run resumed after its earlier attempt had written this folder
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    files = [
        {"name": path.name, "size": path.stat().st_size, "sha256": sha256_of(path)}
        for path in sorted(final.iterdir()) if path.is_file()
    ]
    weights = next(f for f in files if f["name"] == WEIGHTS_FILE)
    return {
        "path": relative,
        "sha256": weights["sha256"],
        "size_bytes": sum(f["size"] for f in files),
        "files": files,
    }
