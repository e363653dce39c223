"""The llama.cpp engine while torch trains on the same machine (a script: prints figures only).

    .venv/bin/python tests/benchmarks/bench_engine_load.py [--threads 1,2] [--tokens 64] [--rounds 2]

For each engine thread count, single-stream decode tokens/s of LlamaCppEngine:
- idle: nothing else running;
- training in another process: a child process runs LoRA fine-tuning steps with torch (2 threads,
  like the embedded training worker);
- training in this process: the same loop on a thread of this process, so torch's OpenMP runtime
  and llama.cpp's share one process (the embedded default).
Also whether the in-process run stayed correct (greedy tokens equal to the idle run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from inference.engines.base import GenerationParams, GenerationRequest  # noqa: E402
from inference.install import bundled_gguf, install_bundled_models  # noqa: E402
from inference.registry import DEFAULT_MODEL_ID, model_path  # noqa: E402

TRAIN_LOOP = """
import sys, time, torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
torch.set_num_threads(2)
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
ids = torch.randint(0, 49152, (4, 256))
print("training", flush=True)
while True:
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def train_forever(model_dir: Path, stop: threading.Event) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, 49152, (4, 256))
    while not stop.is_set():
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def rate(engine, tokens: int, rounds: int) -> tuple[float, tuple[int, ...]]:
    req = GenerationRequest(
        messages=[{"role": "user", "content": "Explain in detail how a steam engine works."}],
        params=GenerationParams(temperature=0.0, max_new_tokens=tokens, max_seconds=600),
    )
    rates, ids = [], ()
    for _ in range(rounds):
        result = list(engine.stream(req))[-1]
        decode_s = result.duration_s - result.time_to_first_token_s
        rates.append((result.completion_tokens - 1) / decode_s)
        ids = result.token_ids
    return statistics.median(rates), ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from inference.engines.llamacpp import LlamaCppEngine

    models_dir = Path(os.environ.get("MODELS_DIR") or REPO_ROOT / "var" / "models")
    install_bundled_models(models_dir)
    base_dir, gguf = model_path(models_dir, DEFAULT_MODEL_ID), bundled_gguf(DEFAULT_MODEL_ID)
    engines = {n: LlamaCppEngine(gguf, base_dir, threads=n) for n in map(int, args.threads.split(","))}
    print(f"{os.cpu_count()} CPUs (shared with whatever else runs); {args.tokens} tokens, median of {args.rounds}")
    idle = {}
    for threads, engine in engines.items():
        idle[threads] = rate(engine, args.tokens, args.rounds)
        print(f"  {threads} thread(s), idle:                       {idle[threads][0]:6.1f} tok/s")

    child = subprocess.Popen([sys.executable, "-c", TRAIN_LOOP, str(base_dir)], stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()  # "training": the model is loaded and stepping
        time.sleep(3)
        for threads, engine in engines.items():
            value = rate(engine, args.tokens, args.rounds)[0]
            print(f"  {threads} thread(s), training in another process: {value:6.1f} tok/s")
    finally:
        child.kill()
        child.wait()

    stop = threading.Event()
    trainer = threading.Thread(target=train_forever, args=(base_dir, stop), daemon=True)
    trainer.start()
    time.sleep(8)  # loaded and stepping
    try:
        for threads, engine in engines.items():
            value, ids = rate(engine, args.tokens, args.rounds)
            same = ids == idle[threads][1]
            print(f"  {threads} thread(s), training in this process:   {value:6.1f} tok/s (tokens as idle: {same})")
    finally:
        stop.set()
        trainer.join(60)


if __name__ == "__main__":
    main()
