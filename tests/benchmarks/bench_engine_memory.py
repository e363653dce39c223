"""Resident memory of serving a base model and two fine-tuned versions of it (prints figures only).

    .venv/bin/python tests/benchmarks/bench_engine_memory.py [--backend llamacpp|torch] [--slots 16]

Each step runs in this process and prints VmRSS: the engine loaded, one 16-slot batch (context)
for the base model, then one for each of two fine-tuned versions (random rank-16 LoRA adapters
on every linear layer), each after a short generation. Run once per backend. On both backends the
fine-tuned versions share the base model's weights (torch attaches each adapter to the one base by
name; before, it loaded a merged full copy per version: run this script on an older checkout to
see the difference).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from inference.engines.base import GenerationParams, GenerationRequest  # noqa: E402
from inference.install import bundled_gguf, install_bundled_models  # noqa: E402
from inference.registry import DEFAULT_MODEL_ID, model_path  # noqa: E402
from tests.benchmarks.bench_engine_llamacpp import make_adapter  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="llamacpp", choices=["llamacpp", "torch"])
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--kv-type", default="q8_0")
    args = parser.parse_args()

    models_dir = Path(os.environ.get("MODELS_DIR") or REPO_ROOT / "var" / "models")
    install_bundled_models(models_dir)
    base_dir, gguf = model_path(models_dir, DEFAULT_MODEL_ID), bundled_gguf(DEFAULT_MODEL_ID)
    print(f"{args.backend}, {args.slots} slots: start {rss_mb():.0f} MB")

    def engine_for(adapter: Path | None):
        if args.backend == "llamacpp":
            from inference.engines.llamacpp import LlamaCppEngine

            return LlamaCppEngine(gguf, base_dir, adapter_gguf=adapter, kv_type=args.kv_type)
        from inference.engines.local import LocalEngine

        return LocalEngine(base_dir, device="cpu", adapter_dir=adapter and adapter.parent)

    kept = []
    with tempfile.TemporaryDirectory() as tmp:
        adapters = []
        for i in range(2):
            folder = Path(tmp) / f"v{i}"
            folder.mkdir()
            adapters.append(make_adapter(base_dir, folder))
        import gc

        gc.collect()
        print(f"  after writing two adapters (torch imported for it): {rss_mb():.0f} MB")
        for label, adapter in (("base", None), ("fine-tuned 1", adapters[0]), ("fine-tuned 2", adapters[1])):
            engine = engine_for(adapter)
            batch = engine.new_batch(args.slots)  # what a live scheduler holds between requests
            kept.append((engine, batch))
            list(engine.stream(GenerationRequest(messages=[{"role": "user", "content": "Hi"}],
                                                 params=GenerationParams(temperature=0.0, max_new_tokens=16))))
            print(f"  serving {label} too: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
