"""The operator's models folder: which files there may become registered base models, and what they are.

Pure (stdlib only: no torch, no numpy), so the web tier lists candidates and the worker resolves paths with
the same rules. A candidate is an entry directly in settings.MODELS_DIR:

- a ``.gguf`` file, or a folder holding one ``.gguf`` file (and perhaps its LICENSE/README): served by the
  llama.cpp engine only;
- a Hugging Face folder: ``config.json``, ``*.safetensors`` weights and a ``tokenizer.json``: served by the
  torch engine, and fine-tunable.

Never an arbitrary path: a name is one path component under the folder, with no symlink anywhere on the way
(a link could point anywhere on the server), and weights load with safetensors or GGUF only — a folder with
only pickle weights (``.bin``, ``.pt``, ``.pth``, ``.ckpt``, ``.pkl``) is refused, since unpickling runs code.
Registered models are named ``local:<name>`` in product versions and requests.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

LOCAL_PREFIX = "local:"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "NOTICE", "NOTICE.md", "README.md", "README")
LICENCE_CHARS = 600
#: Bytes of weights one llama.cpp thread reads per second while decoding; one token reads every weight once, so
#: tokens/s ≈ this ÷ the weights' size. Calibrated on bench_bigger_model.py (one thread, a shared 2-core machine:
#: SmolLM2 Q4_1, 98 MB, 26 tok/s; Gemma 3 270M Q4_K_M, 253 MB, 13 tok/s). An estimate, and labelled so.
CPU_BYTES_PER_SECOND = 3e9
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ModelFolderError(ValueError):
    """A name in the models folder that cannot be registered or served; the message says why, in words."""


@dataclass(frozen=True, slots=True)
class ModelCandidate:
    name: str  # the entry's name in the models folder
    format: str  # "gguf" | "hf"
    size_bytes: int
    parameters: int | None
    architecture: str
    licence_note: str

    @property
    def model_id(self) -> str:
        return LOCAL_PREFIX + self.name

    @property
    def can_fine_tune(self) -> bool:
        return self.format == "hf"

    @property
    def tokens_per_second_estimate(self) -> float:
        """Rough decode speed per engine thread: GGUF with llama.cpp reads its file once per token; a Hugging Face
        folder on torch reads float32 weights (4 bytes a parameter) at about a third of llama.cpp's efficiency."""
        if self.format == "gguf":
            return CPU_BYTES_PER_SECOND / max(self.size_bytes, 1)
        weights = 4 * self.parameters if self.parameters else self.size_bytes
        return CPU_BYTES_PER_SECOND / 3 / max(weights, 1)

    @property
    def parameters_label(self) -> str:
        if not self.parameters:
            return "unknown"
        value = self.parameters
        if value >= 1e9:
            return f"{value / 1e9:.1f}B"
        return f"{value / 1e6:.0f}M" if value >= 1e6 else f"{value:,}"

    @property
    def speed_label(self) -> str:
        """The estimate in words, with the engine it assumes."""
        engine = "llama.cpp" if self.format == "gguf" else "torch"
        return f"about {self.tokens_per_second_estimate:.0f} tokens/s per CPU thread with {engine} (estimate)"


def is_local(model_id: str) -> bool:
    return model_id.startswith(LOCAL_PREFIX)


def model_candidates(models_dir: Path, *, skip: tuple[str, ...] = ()) -> list[ModelCandidate]:
    """Every registrable entry directly under ``models_dir`` (bundled installs in ``skip``), by name."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name in skip or entry.name.startswith((".", "_")) or entry.is_symlink():
            continue
        try:
            found.append(inspect(root, entry.name))
        except ModelFolderError:
            continue
    return found


def entry_path(models_dir: Path, name: str) -> Path:
    """The entry ``name`` directly in ``models_dir``; ModelFolderError for anything else (traversal, links)."""
    root = Path(models_dir).resolve()
    if not _NAME.match(name or "") or name in (".", ".."):
        raise ModelFolderError(f"“{name}” is not a name in the models folder: use the name of a file or folder "
                               "directly inside it (letters, digits, dots, dashes, underscores).")
    path = root / name
    if path.is_symlink():
        raise ModelFolderError(f"“{name}” is a symbolic link; the studio only loads files that are really inside "
                               "the models folder. The operator copies the model there instead.")
    if not path.exists():
        raise ModelFolderError(f"There is no “{name}” in the models folder any more; the operator puts it back "
                               "or an admin registers another model.")
    if path.resolve().parent != root:
        raise ModelFolderError(f"“{name}” leads outside the models folder.")
    return path


def inspect(models_dir: Path, name: str) -> ModelCandidate:
    """What entry ``name`` is: format, size, parameter count and licence note; ModelFolderError when it is none."""
    path = entry_path(models_dir, name)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelFolderError(f"“{name}” is not a model: the studio loads .gguf files or Hugging Face folders "
                                   "with safetensors weights.")
        return _gguf_candidate(name, path, "")
    files = list(path.iterdir())
    links = [f.name for f in files if f.is_symlink()]
    if links:
        raise ModelFolderError(f"“{name}” holds symbolic links ({', '.join(sorted(links)[:3])}); the studio only "
                               "loads files that are really inside the models folder.")
    licence = _licence(path)
    ggufs = sorted(f for f in files if f.suffix.lower() == ".gguf" and f.is_file())
    if not (path / "config.json").is_file():
        if len(ggufs) == 1:
            return _gguf_candidate(name, ggufs[0], licence)
        raise ModelFolderError(f"“{name}” is neither a Hugging Face folder (config.json, safetensors weights, "
                               "tokenizer.json) nor a folder with one .gguf file.")
    weights = sorted(f for f in files if f.suffix == ".safetensors" and f.is_file())
    if not weights:
        pickled = [f.name for f in files if f.suffix.lower() in PICKLE_SUFFIXES]
        if pickled:
            raise ModelFolderError(f"“{name}” has only pickle weights ({pickled[0]}), which can run code when "
                                   "loaded; the studio loads safetensors only. Convert them to safetensors first.")
        raise ModelFolderError(f"“{name}” has a config.json but no .safetensors weights.")
    if not (path / "tokenizer.json").is_file():
        raise ModelFolderError(f"“{name}” has no tokenizer.json; save the tokenizer into the folder too.")
    try:
        config = json.loads((path / "config.json").read_text())
        parameters = sum(_safetensors_parameters(f) for f in weights)
    except (OSError, ValueError, struct.error) as exc:
        raise ModelFolderError(f"“{name}” could not be read ({exc}).") from None
    architecture = str(config.get("model_type") or (config.get("architectures") or ["unknown"])[0])
    return ModelCandidate(name, "hf", sum(f.stat().st_size for f in files if f.is_file()), parameters,
                          architecture, licence)


def resolve(models_dir: Path, model_id: str) -> tuple[ModelCandidate, Path]:
    """(candidate, the file or folder to load) for ``local:<name>``; the worker calls this at load time."""
    if not is_local(model_id):
        raise ModelFolderError(f"{model_id!r} is not a model of the models folder.")
    candidate = inspect(models_dir, model_id[len(LOCAL_PREFIX):])
    path = entry_path(models_dir, candidate.name)
    if candidate.format == "gguf" and path.is_dir():
        path = next(f for f in sorted(path.iterdir()) if f.suffix.lower() == ".gguf")
    return candidate, path


def _licence(folder: Path) -> str:
    for name in LICENCE_FILES:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            text = path.read_text(errors="replace")[:LICENCE_CHARS * 4]
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>|^---.*?---", " ", text, flags=re.S)).strip()
            return f"{name}: {text[:LICENCE_CHARS]}" + ("…" if len(text) > LICENCE_CHARS else "")
    return ""


def _gguf_candidate(name: str, path: Path, licence: str) -> ModelCandidate:
    try:
        with path.open("rb") as handle:
            meta, parameters = read_gguf_header(handle)
    except (OSError, ValueError, struct.error) as exc:
        raise ModelFolderError(f"“{name}” is not a readable GGUF file ({exc}).") from None
    if not licence and meta.get("general.license"):
        licence = f"general.license: {meta['general.license']}"
    return ModelCandidate(name, "gguf", path.stat().st_size, parameters,
                          str(meta.get("general.architecture", "unknown")), licence)


def _safetensors_parameters(path: Path) -> int:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > 100_000_000:
            raise ValueError("a safetensors header larger than 100 MB")
        header = json.loads(handle.read(length))
    total = 0
    for key, tensor in header.items():
        if key != "__metadata__":
            count = 1
            for dim in tensor["shape"]:
                count *= int(dim)
            total += count
    return total


# GGUF (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): magic, version, tensor and key counts,
# typed key/values, then tensor infos (name, dims, type, offset). Only strings and scalars are kept.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def read_gguf_header(handle: BinaryIO) -> tuple[dict[str, object], int]:
    """(string and scalar metadata, total parameter count) of a GGUF file, reading only its header."""
    if handle.read(4) != b"GGUF":
        raise ValueError("no GGUF magic")
    version, tensors, keys = struct.unpack("<IQQ", handle.read(20))
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    meta: dict[str, object] = {}
    for _ in range(keys):
        key = _string(handle)
        (kind,) = struct.unpack("<I", handle.read(4))
        value = _value(handle, kind)
        if value is not None:
            meta[key] = value
    parameters = 0
    for _ in range(tensors):
        _string(handle)
        (dims,) = struct.unpack("<I", handle.read(4))
        count = 1
        for size in struct.unpack(f"<{dims}Q", handle.read(8 * dims)):
            count *= size
        handle.read(12)  # type (u32), offset (u64)
        parameters += count
    return meta, parameters


def _string(handle: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", handle.read(8))
    if length > 50_000_000:
        raise ValueError("a GGUF string longer than 50 MB")
    return handle.read(length).decode(errors="replace")


def _value(handle: BinaryIO, kind: int) -> object:
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, handle.read(struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _string(handle)
    if kind == _ARRAY:
        item, count = struct.unpack("<IQ", handle.read(12))
        if item in _SCALARS:
            handle.seek(struct.calcsize(_SCALARS[item]) * count, 1)
        else:
            for _ in range(count):
                _value(handle, item)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")
