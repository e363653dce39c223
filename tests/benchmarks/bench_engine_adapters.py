"""Fine-tuned versions sharing one base model on the torch backend (a script: it prints figures only).

    .venv/bin/python tests/benchmarks/bench_engine_adapters.py [--rounds 3] [--max-new-tokens 48]

Three versions of SmolLM2 on the CPU in fp32: the base and two fine-tuned ones (random rank-16
LoRA adapters on every linear layer, attached by name to the one base in memory), each with its
own Scheduler as the worker runs them. Versions' forward passes take turns on the shared model,
one adapter per step. Interleaved round by round, greedy, the same prompt:
- one fine-tuned version streaming alone, and the base alone: decode tok/s and their ratio;
- two versions with different adapters streaming at once: each stream's tok/s and the aggregate,
  against one version alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from inference.install import install_bundled_models  # noqa: E402
from inference.registry import DEFAULT_MODEL_ID, model_path  # noqa: E402
from tests.benchmarks.bench_engine_llamacpp import PROMPTS, decode_rate, make_adapter, request  # noqa: E402


def stream_together(schedulers, req) -> list:
    """Submit one request to each scheduler at once; their results, in order."""
    handles = [s.submit(req) for s in schedulers]
    return [h.result() for h in handles]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    import torch

    from inference.engines.local import LocalEngine, shared_model
    from inference.scheduler import Scheduler

    models_dir = Path(os.environ.get("MODELS_DIR") or REPO_ROOT / "var" / "models")
    install_bundled_models(models_dir)
    base_dir = model_path(models_dir, DEFAULT_MODEL_ID)
    req = request(PROMPTS[1], args.max_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = []
        for i in range(2):
            (Path(tmp) / f"v{i}").mkdir()
            adapters.append(make_adapter(base_dir, Path(tmp) / f"v{i}").parent)
        versions = [LocalEngine(base_dir, device="cpu")] + [
            LocalEngine(base_dir, device="cpu", adapter_dir=a) for a in adapters
        ]
        for version in versions:
            version.loaded  # noqa: B018 - load the base and attach both adapters before timing
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32 CPU; "
            f"adapters on the shared base: {shared_model(base_dir, 'cpu').adapter_count}"
        )
        base, one, two = (Scheduler(v, max_batch_size=4) for v in versions)
        try:
            stream_together([base, one, two], req)  # warm-up
            rates: dict[str, list[float]] = {"base": [], "alone": [], "shared": [], "aggregate": []}
            for _ in range(args.rounds):
                rates["base"].append(decode_rate(base.submit(req).result()))
                rates["alone"].append(decode_rate(one.submit(req).result()))
                together = stream_together([one, two], req)
                shared = [decode_rate(r) for r in together]
                rates["shared"].append(statistics.mean(shared))
                rates["aggregate"].append(sum(shared))
        finally:
            for s in (base, one, two):
                s.shutdown()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"median of {args.rounds} interleaved rounds, {args.max_new_tokens} greedy tokens each:")
    print(
        f"  base alone {med['base']:.1f} tok/s; one fine-tuned version alone {med['alone']:.1f} tok/s "
        f"(fine-tuned / base {med['alone'] / med['base']:.2f}, target >= 0.9)"
    )
    print(
        f"  two versions with different adapters at once: {med['shared']:.1f} tok/s each, "
        f"{med['aggregate']:.1f} aggregate"
    )
    print(
        f"  each / alone {med['shared'] / med['alone']:.2f}; aggregate / alone {med['aggregate'] / med['alone']:.2f} "
        "(steps alternate between the two adapters)"
    )


if __name__ == "__main__":
    main()
