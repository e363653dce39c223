"""The torch backend on a GPU against transformers' own `generate` on the same GPU (prints figures only).

    python tests/benchmarks/bench_gpu_torch.py [--device cuda] [--streams 32] [--max-new-tokens 128]
        [--rounds 3] [--model-dir DIR] [--random-weights] [--json OUT/bench_gpu_torch.json]
    python tests/benchmarks/bench_gpu_torch.py --pack DIR     # config + tokenizer only, a few MB

No Django and no database: it imports the engine (inference/engines/local.py) and the scheduler
(inference/scheduler.py) directly and needs only torch, transformers (with tokenizers) and
safetensors. On CUDA the engine serves in bf16 (fp16 where bf16 is missing), and `generate` runs
on the very same model object, so both sides use one copy of the weights. Interleaved round by
round, greedy, the same prompts:
1. time to first token: engine (submit -> first token, tokenising included) vs `generate` with
   max_new_tokens=1 (chat template included);
2. single stream decode tok/s: engine vs `generate` (tokens after the first over their time);
3. N streams at once (default 32): the engine's continuous-batching Scheduler with N slots, all
   submitted together, vs one left-padded batched `generate` of the same N prompts; aggregate
   tok/s = tokens written / wall time from submit to the last one done.
Both sides write exactly --max-new-tokens tokens (EOS ignored), so the rates compare like with like.

A GPU machine that reaches no network cannot fetch the model, and the 135M model's weights
(270 MB in bf16) are over what travels with a command. `--pack DIR` (here) writes its config and
tokenizer; `--model-dir DIR --random-weights` (there) builds the same architecture with random
weights, which decodes exactly as fast (same shapes, same kernels); the greedy text is noise.
On the CPU, `--device cpu --streams 4` is the smoke check that the script works.

For the device machine: `--pack var/gpu-model` here, then there (carry `var/gpu-model`, plus wheels
of transformers/tokenizers/safetensors if it lacks them):
`python tests/benchmarks/bench_gpu_torch.py --model-dir var/gpu-model --random-weights --json $OUT/gpu.json`
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from inference.engines.base import GenerationResult  # noqa: E402
from tests.benchmarks.bench_engine_llamacpp import PROMPTS, decode_rate, request  # noqa: E402 - no llama.cpp needed

DEFAULT_MODEL_DIR = REPO_ROOT / "var" / "models" / "smollm2-135m-instruct"
SMALL_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
)


def pack(model_dir: Path, out: Path) -> None:
    """Copy what --random-weights needs (no weights) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    copied = [name for name in SMALL_FILES if (model_dir / name).is_file()]
    for name in copied:
        shutil.copy2(model_dir / name, out / name)
    size = sum((out / name).stat().st_size for name in copied) / 1e6
    print(f"packed {', '.join(copied)} into {out} ({size:.1f} MB)")


def random_model_dir(config_dir: Path, tmp: Path) -> Path:
    """The same architecture with random weights, saved where LocalEngine can load it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir), dtype=torch.bfloat16)
    out = tmp / "random-weights"
    model.save_pretrained(out, safe_serialization=True)
    for name in SMALL_FILES:
        if (config_dir / name).is_file() and name != "config.json":
            shutil.copy2(config_dir / name, out / name)
    return out


class Generate:
    """transformers' own loop on the engine's model object: chat template, generate, decode."""

    def __init__(self, engine) -> None:
        self.loaded = engine.loaded
        self.tokenizer = engine.loaded.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def run(self, texts: list[str], max_new_tokens: int) -> tuple[float, list[list[int]]]:
        import torch

        started = time.perf_counter()
        conversations = [[{"role": "user", "content": t}] for t in texts]
        enc = self.tokenizer.apply_chat_template(
            conversations, add_generation_prompt=True, return_tensors="pt", return_dict=True, padding=True
        ).to(self.loaded.device)
        with torch.inference_mode():
            out = self.loaded.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        self.tokenizer.batch_decode(new, skip_special_tokens=True)
        return time.perf_counter() - started, new


def engine_run(scheduler, texts: list[str], max_new_tokens: int) -> tuple[float, list[GenerationResult]]:
    started = time.perf_counter()
    handles = [scheduler.submit(request(t, max_new_tokens)) for t in texts]
    results = [h.result() for h in handles]
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--random-weights", action="store_true", help="config + tokenizer only in --model-dir")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--pack", type=Path, metavar="DIR", help="write config + tokenizer to DIR and exit")
    args = parser.parse_args()
    if args.pack:
        pack(args.model_dir, args.pack)
        return

    import torch
    import transformers

    from inference.engines.local import LocalEngine
    from inference.scheduler import Scheduler

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("No CUDA device here; run with --device cpu for the smoke check.")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = random_model_dir(args.model_dir, Path(tmp)) if args.random_weights else args.model_dir
        engine = _no_eos(LocalEngine)(model_dir, device=args.device)
        loaded = engine.loaded
        peer = Generate(engine)
        where = torch.cuda.get_device_name(loaded.device) if loaded.device.type == "cuda" else "CPU"
        print(
            f"{where}: torch {torch.__version__}, transformers {transformers.__version__}, {loaded.dtype}, "
            f"{'random' if args.random_weights else 'real'} weights from {args.model_dir}"
        )
        single = Scheduler(engine, max_batch_size=1)
        crowd = Scheduler(engine, max_batch_size=args.streams)
        n, texts = args.max_new_tokens, [PROMPTS[i % len(PROMPTS)] for i in range(args.streams)]
        figures: dict[str, list[float]] = {
            k: []
            for k in (
                "engine_ttft_s",
                "generate_ttft_s",
                "engine_tok_s",
                "generate_tok_s",
                "engine_agg_tok_s",
                "generate_agg_tok_s",
            )
        }
        same_prefix: list[int] = []
        try:
            engine_run(crowd, texts[:2], 4)  # warm-up: CUDA context, kernels, allocator
            peer.run(texts[:2], 4)
            for rnd in range(args.rounds):
                # Alternating order, so neither side always runs on what the other left warm.
                for side in ("engine", "generate") if rnd % 2 == 0 else ("generate", "engine"):
                    if side == "engine":
                        _, (first,) = engine_run(single, texts[:1], 1)
                        figures["engine_ttft_s"].append(first.time_to_first_token_s)
                        _, (one,) = engine_run(single, texts[:1], n)
                        figures["engine_tok_s"].append(decode_rate(one))
                        wall, many = engine_run(crowd, texts, n)
                        figures["engine_agg_tok_s"].append(sum(r.completion_tokens for r in many) / wall)
                    else:
                        ttft, _ = peer.run(texts[:1], 1)
                        figures["generate_ttft_s"].append(ttft)
                        whole, (ids,) = peer.run(texts[:1], n)
                        figures["generate_tok_s"].append((n - 1) / max(whole - ttft, 1e-9))
                        wall, batch = peer.run(texts, n)
                        figures["generate_agg_tok_s"].append(sum(len(b) for b in batch) / wall)
                same_prefix.append(_common_prefix(one.token_ids, ids))
        finally:
            single.shutdown()
            crowd.shutdown()
    med = {k: statistics.median(v) for k, v in figures.items()}
    report = {
        "device": where,
        "dtype": str(loaded.dtype),
        "streams": args.streams,
        "max_new_tokens": n,
        "rounds": args.rounds,
        "random_weights": args.random_weights,
        **{k: round(v, 4) for k, v in med.items()},
        "greedy_tokens_equal_prefix": min(same_prefix),
    }
    print(f"median of {args.rounds} interleaved rounds, {n} greedy tokens per stream:")
    print(f"  TTFT: engine {med['engine_ttft_s'] * 1000:.1f} ms, generate {med['generate_ttft_s'] * 1000:.1f} ms")
    print(
        f"  single stream: engine {med['engine_tok_s']:.1f} tok/s, generate {med['generate_tok_s']:.1f} tok/s, "
        f"ratio {med['engine_tok_s'] / med['generate_tok_s']:.2f}"
    )
    print(
        f"  {args.streams} streams: engine {med['engine_agg_tok_s']:.1f} tok/s aggregate, batched generate "
        f"{med['generate_agg_tok_s']:.1f}, ratio {med['engine_agg_tok_s'] / med['generate_agg_tok_s']:.2f}"
    )
    print(
        f"  single-stream greedy tokens equal for the first {min(same_prefix)} of {n} "
        "(bf16 is not exact; fp32 on the CPU is)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


def _no_eos(engine_class):
    """The engine, with every stream running to --max-new-tokens as `generate(min_new_tokens=n)` does."""

    class NoEosEngine(engine_class):
        @property
        def eos_token_ids(self) -> frozenset[int]:
            return frozenset()

    return NoEosEngine


def _common_prefix(a, b) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


if __name__ == "__main__":
    main()
