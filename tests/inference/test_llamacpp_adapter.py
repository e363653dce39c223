"""A fine-tuned adapter served by llama.cpp changes the output as the same adapter does in torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.engines.base import TokenEvent
from inference.engines.gguf_export import GGUF_ADAPTER_FILE, export_lora_gguf, export_peft_model
from inference.install import bundled_gguf
from inference.registry import DEFAULT_MODEL_ID, model_path

from .conftest import require_llamacpp
from .factories import chat

pytestmark = pytest.mark.model

PROMPT = chat("Write one sentence about the sea.", max_new_tokens=12)


@pytest.fixture(scope="module")
def adapter_dir(models_dir: Path, tmp_path_factory) -> Path:
    """A LoRA adapter on every linear layer with random, non-zero weights (an untrained one is a no-op)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("adapter")
    base = AutoModelForCausalLM.from_pretrained(model_path(models_dir, DEFAULT_MODEL_ID), dtype=torch.float32)
    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
    peft = get_peft_model(base, config)
    with torch.no_grad():
        for name, weights in peft.named_parameters():
            if "lora_B" in name:
                weights.mul_(0.3)  # enough to change the answer, not noise that drowns the model
    peft.save_pretrained(str(out), safe_serialization=True)
    export_peft_model(peft, out)
    return out


@pytest.fixture(scope="module")
def torch_tuned(models_dir, engine, adapter_dir):
    """The fine-tuned torch engine and how its adapter moves the prompt's last logits (float32 weights), made
    once for the module: both tests compare llama.cpp against it."""
    from inference.engines.local import LocalEngine

    ids = engine.encode(PROMPT)
    tuned = LocalEngine(model_path(models_dir, DEFAULT_MODEL_ID), device="cpu", adapter_dir=adapter_dir)
    return tuned, (tuned.prefill(ids)[1] - engine.prefill(ids)[1]).float()


def _cosine(a, b) -> float:
    # Centred: a shift of every logit by the same amount changes no probability.
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()))


def test_the_llamacpp_adapter_moves_the_logits_the_way_the_torch_adapter_does(
    models_dir, engine, llamacpp_engine, adapter_dir, torch_tuned
):
    require_llamacpp()
    from inference.engines.llamacpp import LlamaCppEngine

    tuned_torch, torch_shift = torch_tuned
    base_dir = model_path(models_dir, DEFAULT_MODEL_ID)
    tuned_llama = LlamaCppEngine(
        bundled_gguf(DEFAULT_MODEL_ID), base_dir, adapter_gguf=adapter_dir / GGUF_ADAPTER_FILE, threads=1
    )
    ids = engine.encode(PROMPT)

    llama_shift = tuned_llama.new_batch(1).add("tuned", ids) - llamacpp_engine.new_batch(1).add("base", ids)

    assert torch_shift.abs().max() > 1.0  # the adapter matters
    # Q4_1 weights against float32 ones agree only so far; q/k rows left unpermuted score about 0.05.
    assert _cosine(torch_shift, llama_shift.float()) > 0.8
    # One copy of the base weights for both versions.
    assert tuned_llama.model is llamacpp_engine.model

    def text(engine) -> str:
        return "".join(e.text for e in engine.stream(PROMPT) if isinstance(e, TokenEvent))

    assert text(tuned_llama) != text(llamacpp_engine)
    assert text(tuned_torch) != text(engine)


def test_the_exported_gguf_adapter_names_every_lora_matrix_the_way_llamacpp_reads_them(adapter_dir):
    import gguf

    reader = gguf.GGUFReader(adapter_dir / GGUF_ADAPTER_FILE)
    names = {t.name for t in reader.tensors}

    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.lora.alpha"].contents() == 16.0
    assert len(names) == 30 * 7 * 2  # 30 layers, 7 linear modules, A and B
    assert {"blk.0.attn_q.weight.lora_a", "blk.29.ffn_down.weight.lora_b"} <= names


def test_the_gguf_adapter_is_smaller_with_lora_a_in_q8_0_and_as_close_to_torch_as_the_f32_one(
    models_dir, engine, llamacpp_engine, adapter_dir, torch_tuned
):
    """llama.cpp streams the adapter from memory at every decode step: lora_a in Q8_0 cuts the bytes (and a
    few percent of the step), and must not move the fine-tuned version further from what torch computes."""
    require_llamacpp()
    import gguf

    from inference.engines.llamacpp import LlamaCppEngine

    _, torch_shift = torch_tuned
    base_dir = model_path(models_dir, DEFAULT_MODEL_ID)
    default = adapter_dir / GGUF_ADAPTER_FILE
    types = {(t.name.rsplit("_", 1)[-1], t.tensor_type.name) for t in gguf.GGUFReader(default).tensors}
    assert types == {("a", "Q8_0"), ("b", "F32")}

    f32 = export_lora_gguf(adapter_dir, json.loads((base_dir / "config.json").read_text()),
                           adapter_dir / "adapter-f32.gguf", a_type="f32")
    assert default.stat().st_size < 0.7 * f32.stat().st_size

    ids = engine.encode(PROMPT)
    base_logits = llamacpp_engine.new_batch(1).add("base", ids)

    def shift(adapter: Path):
        tuned = LlamaCppEngine(bundled_gguf(DEFAULT_MODEL_ID), base_dir, adapter_gguf=adapter, threads=1)
        return (tuned.new_batch(1).add("tuned", ids) - base_logits).float()

    # Measured: 0.924 for both (F16 tensors, for scale, 0.916): llama.cpp's numerics, not the format, set it.
    assert _cosine(torch_shift, shift(default)) > _cosine(torch_shift, shift(f32)) - 0.02
