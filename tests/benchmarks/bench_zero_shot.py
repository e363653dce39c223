"""The zero-shot baseline a classification product shows before training (a script: prints figures).

    .venv/bin/python tests/benchmarks/bench_zero_shot.py [--rows 60] [--template support-routing]

The base language model (the bundled SmolLM2-135M-Instruct, through the studio's engine and scheduler)
is asked to pick one of the template's labels with exactly the request the classification kind builds
(``Classification.zero_shot_request``), and its reply is mapped with the classify runner's own rule
(``zero_shot_label``). Data: the held-out 20 % (stratified, seed 0) of the studio's own shipped sample
products/datasets/samples/support_tickets.csv (300 messages, 5 labels, written for the studio; no public
labelled set is installable here), the same split bench_classifier.py's first fold holds out, so its
accuracy reads beside the frozen baseline and the fine-tuned classifier printed there.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from bench_classifier import load_rows, split  # noqa: E402

from inference.engines.base import GenerationParams, GenerationRequest  # noqa: E402
from inference.runners.classify import UNSURE, zero_shot_label  # noqa: E402
from products.kinds.registry import get_kind  # noqa: E402
from products.models import Product  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=0, help="score only the first N held-out rows (0: all)")
    parser.add_argument("--template", default="support-routing")
    args = parser.parse_args()

    from django.conf import settings
    from sklearn.metrics import accuracy_score, f1_score

    from inference.install import install_bundled_models
    from inference.registry import DEFAULT_MODEL_ID
    from inference.runtime import engine_status, scheduler_for

    install_bundled_models(Path(settings.MODELS_DIR))
    kind = get_kind("classification")
    template = next(t for t in kind.templates if t.id == args.template)
    labels = template.kind_config["labels"]
    _, held = split(load_rows(), 0.2, 0)
    held = held[: args.rows] if args.rows else held
    config = Product(kind="classification", base_model=DEFAULT_MODEL_ID, kind_config=dict(template.kind_config))
    scheduler = scheduler_for(DEFAULT_MODEL_ID, None)
    started = time.perf_counter()
    handles = []
    for text, _ in held:
        request = kind.zero_shot_request(config, text, labels)
        handles.append(scheduler.submit(GenerationRequest(messages=request.messages,
                                                          params=GenerationParams(**request.params))))
    picks = [zero_shot_label(handle.result().text, labels) or UNSURE for handle in handles]
    elapsed = time.perf_counter() - started
    truth = [label for _, label in held]
    print(f"engine: {engine_status().get('backend', '?')}; data: {len(held)} held-out rows of support_tickets.csv "
          f"(ours), labels {labels}")
    print(f"zero-shot base model: accuracy {accuracy_score(truth, picks):.3f}, macro-F1 "
          f"{f1_score(truth, picks, labels=labels, average='macro', zero_division=0):.3f}, "
          f"unsure {picks.count(UNSURE) / len(picks):.0%}, {1000 * elapsed / len(held):.0f} ms per text "
          f"({len(held)} submitted together)")
    print(f"chance (most common label): {max(truth.count(label) for label in labels) / len(truth):.3f}")
    scheduler.shutdown()


if __name__ == "__main__":
    main()
