"""Generation benchmarks (a script, not a test: it prints figures and asserts nothing timed).

    .venv/bin/python tests/benchmarks/bench_engine.py [--max-new-tokens 128] [--repeats 3]

1. Single stream: LocalEngine.stream tokens/s divided by plain `model.generate` tokens/s, same
   prompt, greedy, same max_new_tokens (target >= 1.0).
3. Concurrent: N streams submitted staggered to the continuous-batching Scheduler; aggregate
   tokens/s divided by single-stream tokens/s on the same prompts run one after another
   (target >= 3.5 for 8 streams).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from inference.engines.base import GenerationParams, GenerationRequest  # noqa: E402
from inference.install import install_bundled_models  # noqa: E402
from inference.registry import DEFAULT_MODEL_ID, model_path  # noqa: E402

PROMPTS = [
    "Write a long story about a dragon who learns to bake bread.",
    "Explain in detail how a steam engine works.",
    "Describe a walk through a busy market in Marrakech.",
    "Write a letter to a friend about your summer holiday.",
    "Explain the rules of chess to a beginner.",
    "Tell the history of the bicycle.",
    "Describe how to plan a vegetable garden.",
    "Write a product description for a new hiking backpack.",
]


def request(text: str, max_new_tokens: int) -> GenerationRequest:
    params = GenerationParams(temperature=0.0, max_new_tokens=max_new_tokens)
    return GenerationRequest(messages=[{"role": "user", "content": text}], params=params)


def time_engine(engine, req: GenerationRequest) -> tuple[float, int, tuple[int, ...]]:
    started = time.perf_counter()
    result = list(engine.stream(req))[-1]
    return time.perf_counter() - started, result.completion_tokens, result.token_ids


def time_generate(engine, req: GenerationRequest) -> tuple[float, int, tuple[int, ...]]:
    """The same work done with transformers' own loop: template, generate, decode."""
    import torch

    loaded = engine.loaded
    tokenizer = loaded.tokenizer
    started = time.perf_counter()
    enc = tokenizer.apply_chat_template(
        req.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(loaded.device)
    with torch.inference_mode():
        out = loaded.model.generate(
            **enc, max_new_tokens=req.params.max_new_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
        )
    new = out[0, enc["input_ids"].shape[1] :].tolist()
    tokenizer.decode(new, skip_special_tokens=True)
    return time.perf_counter() - started, len(new), tuple(new)


def bench_single(engine, max_new_tokens: int, repeats: int) -> float:
    req = request(PROMPTS[0], max_new_tokens)
    engine_rates, generate_rates = [], []
    time_generate(engine, request("Hello", 4))  # warm up transformers' own loop too
    for repeat in range(repeats):
        # Interleaved, so background load hits both alike, and in alternating order, so neither
        # always runs on the caches and clocks the other one left behind.
        if repeat % 2:
            g_time, g_tokens, g_ids = time_generate(engine, req)
            e_time, e_tokens, e_ids = time_engine(engine, req)
        else:
            e_time, e_tokens, e_ids = time_engine(engine, req)
            g_time, g_tokens, g_ids = time_generate(engine, req)
        if e_ids != g_ids:
            print("  note: engine and generate produced different tokens")
        engine_rates.append(e_tokens / e_time)
        generate_rates.append(g_tokens / g_time)
    e_rate, g_rate = statistics.median(engine_rates), statistics.median(generate_rates)
    print(f"[1] single stream, {e_tokens} tokens, median of {repeats}:")
    ratio = e_rate / g_rate
    print(f"    engine {e_rate:.2f} tok/s, model.generate {g_rate:.2f} tok/s, ratio {ratio:.2f} (target >= 1.0)")
    return e_rate


def bench_concurrent(engine, streams: int, max_new_tokens: int, stagger_s: float) -> None:
    from inference.scheduler import Scheduler

    requests = [request(PROMPTS[i % len(PROMPTS)], max_new_tokens) for i in range(streams)]
    started = time.perf_counter()
    solo = [time_engine(engine, r) for r in requests]
    solo_time = time.perf_counter() - started
    solo_tokens = sum(tokens for _, tokens, _ in solo)
    single_rate = solo_tokens / solo_time

    scheduler = Scheduler(engine, max_batch_size=max(streams, 1))
    try:
        started = time.perf_counter()
        handles = []
        for r in requests:
            handles.append(scheduler.submit(r))
            time.sleep(stagger_s)
        results = [h.result() for h in handles]
        batch_time = time.perf_counter() - started
    finally:
        scheduler.shutdown()
    batch_tokens = sum(r.completion_tokens for r in results)
    same = all(r.token_ids == ids for r, (_, _, ids) in zip(results, solo, strict=True))
    rate = batch_tokens / batch_time
    ttft = statistics.median(r.time_to_first_token_s or 0.0 for r in results)
    print(f"[3] {streams} concurrent streams, staggered {stagger_s * 1000:.0f} ms, {batch_tokens} tokens:")
    print(f"    single stream {single_rate:.2f} tok/s, scheduler aggregate {rate:.2f} tok/s, ")
    print(f"    ratio {rate / single_rate:.2f} (target >= 3.5); median time to first token {ttft:.2f} s;")
    print(f"    {scheduler.steps} decode steps; greedy tokens equal to solo runs: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--streams", type=int, default=8, help="0 skips the concurrent benchmark")
    parser.add_argument("--stagger-ms", type=float, default=50.0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import torch

    from inference.engines.local import LocalEngine

    models_dir = Path(os.environ.get("MODELS_DIR") or REPO_ROOT / "var" / "models")
    install_bundled_models(models_dir)
    engine = LocalEngine(model_path(models_dir, DEFAULT_MODEL_ID), device=args.device)
    time_engine(engine, request("Hello", 4))  # load and warm up
    print(f"device {engine.loaded.device}, dtype {engine.loaded.dtype}, torch threads {torch.get_num_threads()}")
    bench_single(engine, args.max_new_tokens, args.repeats)
    if args.streams:
        bench_concurrent(engine, args.streams, args.max_new_tokens, args.stagger_ms / 1000)


if __name__ == "__main__":
    main()
