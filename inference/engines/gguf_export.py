"""PEFT LoRA adapter -> a LoRA adapter in GGUF that llama.cpp applies per context.

Written with the `gguf` package next to the PEFT files of the artifact (`adapter_model.gguf`), so
the llama.cpp backend serves a fine-tuned version on the one base model already in memory.

Two details make llama.cpp compute what PEFT computes:
- names: `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` becomes
  `blk.N.attn_q.weight.lora_a`; arrays keep PEFT's shapes (A: [r, in], B: [out, r]), which in
  GGUF's reversed dimension order is what llama.cpp checks for;
- rotary layout: llama.cpp's GGUF stores q/k projections with their rows permuted for its RoPE
  (convert_hf_to_gguf's `permute`), so lora_B of q_proj and k_proj (rows = output features) gets
  the same permutation. The scale is PEFT's: llama.cpp multiplies by alpha / r.

lora_a is written as Q8_0 (llama.cpp's own converter offers it as `--outtype q8_0`; F32 where Q8_0's
32-wide blocks do not divide the input width), lora_b as F32.
llama.cpp adds two small matrix products (and a scale and an add) per adapted matrix to every decode
step, and on the CPU a step streams every weight from memory, so the adapter's bytes count: Q8_0 A
takes a rank-16 all-linear SmolLM2 adapter from 19.6 to 12.5 MB. B stays F32: its rows are only r
long, under ggml's SIMD step, so F16 rows fall to a scalar loop with a conversion per element (slower
than F32), and Q8_0 rows need r padded to 32 with the scale folded in, for about a percent more.
What remains (about 9% of a step for 210 adapted matrices even at rank 1) is llama.cpp's.

A merged GGUF does not win it back (tried 2026-12-07 on the sample copywriting fine-tune, 36 steps at the
studio's defaults): the base GGUF copied field by field and tensor by tensor (as gguf-py's
gguf_new_metadata.py does), each adapted matrix written as dequant(W) + alpha/r * B @ A (q/k rows permuted
as above). Re-quantized to Q4_1, the base's own type, it decodes at 0.997x the base but the fine-tune is
gone: the base weights are dequantized from this very Q4_1 file, so a small delta rounds back onto them
(greedy output equal to the torch fine-tuned engine's on 0 of 8 prompts, the base's text; the prompt's
logit shift has cosine 0.46 to torch's). In Q8_0 the fine-tune survives (4 of 8 equal, cosine 0.997;
this adapter: 4 of 8, 0.998), but the matrices are 1.7x the bytes and it decodes at 0.86-0.88x the base,
no faster than this adapter in the same runs (0.87-0.88x, thread-CPU time, three runs at load 3.4-4.8 on
2 cores), for 145 MB per version instead of 12.5 MB; Q5_1 0.74x. Attention merged into Q8_0 with the
adapter kept on the MLP: 0.89x. Measured single-stream (1 thread, 128 tokens) with
tests/benchmarks/bench_engine_llamacpp.py's `interleaved` and `StudioStream` over the merged files.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

GGUF_ADAPTER_FILE = "adapter_model.gguf"
LORA_A_TYPES = ("q8_0", "f32")
logger = logging.getLogger(__name__)

_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"^base_model\.model\.model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def gguf_tensor_name(peft_key: str) -> str:
    """The GGUF name llama.cpp looks for; raises ValueError for modules it cannot adapt."""
    match = _KEY.match(peft_key)
    if not match or match.group(2) not in _MODULES:
        raise ValueError(f"The adapter has a tensor llama.cpp cannot apply: {peft_key}.")
    layer, module, side = match.groups()
    return f"blk.{layer}.{_MODULES[module]}.weight.lora_{side.lower()}"


def permute_rows(weights: Any, n_head: int) -> Any:
    """convert_hf_to_gguf's q/k permutation, applied to the output rows of a matrix."""
    rows = weights.shape[0]
    return weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def export_lora_gguf(
    adapter_dir: Path, base_config: dict[str, Any], out: Path | None = None, *, a_type: str = "q8_0"
) -> Path:
    """Write `adapter_model.gguf` for the PEFT adapter in `adapter_dir`; returns its path.

    `a_type` is lora_a's tensor type (see the module's docstring); "f32" writes what earlier runs did."""
    if a_type not in LORA_A_TYPES:
        raise ValueError(f"Unknown lora_a type {a_type!r}; use one of {', '.join(LORA_A_TYPES)}.")
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("use_dora") or config.get("use_rslora"):
        raise ValueError("DoRA and rsLoRA adapters cannot be served by llama.cpp; train a plain LoRA adapter.")
    if config.get("model_type", base_config.get("model_type", "llama")) not in {"llama", None}:
        raise ValueError(f"Only llama-architecture models are exported to GGUF, not {base_config.get('model_type')}.")
    n_head = int(base_config["num_attention_heads"])
    n_kv_head = int(base_config.get("num_key_value_heads") or n_head)
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    out = Path(out or adapter_dir / GGUF_ADAPTER_FILE)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config["lora_alpha"]))
    for key in sorted(tensors):
        name = gguf_tensor_name(key)
        array = tensors[key].astype(np.float32)
        if name.endswith("lora_b") and ".attn_q." in name:
            array = permute_rows(array, n_head)
        elif name.endswith("lora_b") and ".attn_k." in name:
            array = permute_rows(array, n_kv_head)
        _add_tensor(writer, name, np.ascontiguousarray(array), a_type)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    tmp.replace(out)
    return out


def _add_tensor(writer: Any, name: str, array: Any, a_type: str) -> None:
    import gguf

    q8 = gguf.GGMLQuantizationType.Q8_0
    block = gguf.GGML_QUANT_SIZES[q8][0]
    if a_type == "q8_0" and name.endswith("lora_a") and array.shape[-1] % block == 0:
        writer.add_tensor(name, gguf.quants.quantize(array, q8), raw_dtype=q8)
    else:  # lora_b, or an input width Q8_0 blocks do not divide: llama.cpp reads F32 as well
        writer.add_tensor(name, array)


def export_peft_model(model: Any, adapter_dir: Path) -> Path:
    """Export the adapter of a trained PeftModel that was just saved to `adapter_dir`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config.get_text_config(decoder=True).to_dict()
    config.setdefault("model_type", getattr(base.config, "model_type", "llama"))
    return export_lora_gguf(adapter_dir, config)


def export_for_llamacpp(model: Any, adapter_dir: Path) -> Path | None:
    """The end of a training run: the GGUF adapter next to the PEFT one, or None (logged) when
    the model is one llama.cpp cannot serve; the torch engine still serves the PEFT folder."""
    try:
        return export_peft_model(model, adapter_dir)
    except ValueError as exc:
        logger.warning("No GGUF adapter for llama.cpp: %s", exc)
        return None
