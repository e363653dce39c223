"""What the optional pitch per recommended item costs and reads like (a script: prints figures and the pitches).

    .venv/bin/python tests/benchmarks/bench_pitch.py [--items 3]

The bundled SmolLM2-135M-Instruct writes, through the studio's engine and scheduler, the sentence the rank
runner asks for (inference/runners/pitch.py: the same messages and parameters, one item after another as the
runner does), for the first items of the shipped sample catalog products/datasets/samples/shop_catalog.csv.
Printed: the time to the first pitch token (after the list is already shown), the time per pitch, and each
pitch beside its item's description, so a person can judge whether it invents facts.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from inference.engines.base import GenerationParams, GenerationRequest, GenerationResult, TokenEvent  # noqa: E402
from inference.runners.pitch import PARAMS, pitch_messages  # noqa: E402
from products.datasets.seed import SAMPLES_DIR  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=3)
    args = parser.parse_args()

    from django.conf import settings

    from inference.install import install_bundled_models
    from inference.registry import DEFAULT_MODEL_ID
    from inference.runtime import engine_status, scheduler_for

    install_bundled_models(Path(settings.MODELS_DIR))
    with (SAMPLES_DIR / "shop_catalog.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[: args.items]
    scheduler = scheduler_for(DEFAULT_MODEL_ID, None)
    scheduler.submit(GenerationRequest(messages=[{"role": "user", "content": "Hi"}],
                                       params=GenerationParams(max_new_tokens=2, temperature=0.0))).result()
    started, first, per_pitch = time.perf_counter(), None, []
    for row in rows:
        began = time.perf_counter()
        handle = scheduler.submit(GenerationRequest(
            messages=pitch_messages({"id": row["sku"], "title": row["name"]}, row["description"]),
            params=GenerationParams(**PARAMS)))
        for event in handle:
            if isinstance(event, TokenEvent) and first is None:
                first = time.perf_counter() - started
            elif isinstance(event, GenerationResult):
                result = event
        per_pitch.append(time.perf_counter() - began)
        print(f"{row['name']} — {row['description']}\n  pitch ({result.completion_tokens} tokens): "
              f"{result.text.strip()}")
    print(f"engine: {engine_status().get('backend', '?')}; {len(rows)} pitches one after another: first token "
          f"{1000 * (first or 0):.0f} ms, {1000 * sum(per_pitch) / len(per_pitch):.0f} ms per pitch, "
          f"{sum(per_pitch):.1f} s in all")
    scheduler.shutdown()


if __name__ == "__main__":
    main()
