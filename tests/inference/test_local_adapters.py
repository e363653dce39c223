"""Fine-tuned versions on the torch backend share one base model, each with its adapter by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.engines.base import GenerationResult
from inference.registry import DEFAULT_MODEL_ID, model_path

from .factories import chat

pytestmark = pytest.mark.model

# A generous time limit: the first request loads the model and attaches the adapter on a busy machine.
PROMPT = chat("Write one sentence about the sea.", max_new_tokens=16, max_seconds=600)


def _write_adapter(base_dir: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter on every linear layer with random, non-zero weights (an untrained one is a no-op)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    torch.manual_seed(seed)
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
    peft = get_peft_model(base, config)
    with torch.no_grad():
        for name, weights in peft.named_parameters():
            if "lora_B" in name:
                weights.mul_(0.3)  # enough to change the answer, not noise that drowns the model
    peft.save_pretrained(str(out), safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def base_dir(models_dir: Path) -> Path:
    return model_path(models_dir, DEFAULT_MODEL_ID)


@pytest.fixture(scope="module")
def adapters(base_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """Two fine-tuned versions of the base: two different adapters."""
    return tuple(_write_adapter(base_dir, tmp_path_factory.mktemp(f"adapter{seed}"), seed) for seed in (0, 1))


def _merged_copy(base_dir: Path, adapter_dir: Path, out: Path) -> Path:
    """What served a version before: a model folder of its own, the base with the adapter merged in."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out)
    return out


def _ids(engine, request=PROMPT) -> tuple[int, ...]:
    result = list(engine.stream(request))[-1]
    assert isinstance(result, GenerationResult) and result.error_message is None, result
    return result.token_ids


def test_a_version_on_the_shared_base_writes_what_its_merged_copy_wrote(engine, base_dir, adapters, tmp_path):
    from inference.engines.local import LocalEngine

    tuned = LocalEngine(base_dir, device="cpu", adapter_dir=adapters[0])
    ids = _ids(tuned)
    assert len(ids) == 16
    merged = LocalEngine(_merged_copy(base_dir, adapters[0], tmp_path / "merged"), device="cpu")
    assert ids == _ids(merged)
    assert ids != _ids(engine)  # the adapter changes what the version writes
    # The side effect people pay for: no second copy of the base model.
    assert tuned.loaded.model is engine.loaded.model


def test_two_versions_and_the_base_streaming_at_once_each_write_what_they_write_alone(engine, base_dir, adapters):
    from inference.engines.local import LocalEngine, shared_model
    from inference.scheduler import Scheduler

    versions = [engine] + [LocalEngine(base_dir, device="cpu", adapter_dir=a) for a in adapters]
    alone = [_ids(v) for v in versions]
    assert len(set(alone)) == 3  # base and both versions write three different answers

    schedulers = [Scheduler(v, max_batch_size=4) for v in versions]
    try:
        # Two requests per version, all in flight together: steps of the three versions interleave.
        handles = [s.submit(PROMPT) for s in schedulers for _ in range(2)]
        together = [h.result().token_ids for h in handles]
    finally:
        for s in schedulers:
            s.shutdown()
    assert together == [ids for ids in alone for _ in range(2)]
    # Other tests of this process may have attached adapters of their own: count what a repeat adds, nothing.
    attached = shared_model(base_dir, "cpu").adapter_count
    LocalEngine(base_dir, device="cpu", adapter_dir=adapters[0])
    assert shared_model(base_dir, "cpu").adapter_count == attached
    assert {id(v.loaded.model) for v in versions} == {id(engine.loaded.model)}


def test_a_version_whose_adapter_is_not_safetensors_fails_with_how_to_fix_it(engine, base_dir, tmp_path):
    from inference.engines.local import LocalEngine
    from inference.scheduler import Scheduler

    (tmp_path / "adapter_model.bin").write_bytes(b"pickled")
    scheduler = Scheduler(LocalEngine(base_dir, device="cpu", adapter_dir=tmp_path), max_batch_size=2)
    try:
        result = scheduler.submit(PROMPT).result()
    finally:
        scheduler.shutdown()
    assert (result.finish_reason, result.completion_tokens) == ("error", 0)
    assert result.error_message == (
        f"Generation failed: No adapter_model.safetensors in {tmp_path}; adapters are loaded from safetensors "
        "only. Re-export the adapter with `save_pretrained(safe_serialization=True)`."
    )
