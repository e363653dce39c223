"""A temporary models folder for the registration tests: the bundled SmolLM2 GGUF under a new name (a hard
link where the file system allows it, so no 100 MB copy), a small Hugging Face folder, and the things the
studio must refuse: pickle weights, symbolic links out of the folder, a file that is not a model."""

from __future__ import annotations

import json
import os
import shutil
import struct
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

    (outside / "secret.gguf").write_bytes(gguf.read_bytes()[:4096])
    (models / "linked.gguf").symlink_to(outside / "secret.gguf")
    sneaky = models / "sneaky"
    sneaky.mkdir()
    (sneaky / "config.json").write_text("{}")
    (sneaky / "tokenizer.json").write_text("{}")
    (sneaky / "model.safetensors").symlink_to(outside / "secret.gguf")
    (models / "notes.txt").write_text("not a model")
    return models
