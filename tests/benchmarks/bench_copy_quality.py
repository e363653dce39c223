"""Is the copy worth publishing? The four copywriting templates on realistic inputs, with the bundled model.

    .venv/bin/python tests/benchmarks/bench_copy_quality.py [--seeds 3] [--sets 20] [--templates a,b]

For every template × input set (tests/benchmarks/data/copy_inputs.json, 20 per template, written for
this benchmark) × seed, one variant is generated exactly as a new product from the gallery would (the
template's prompt and settings, ``kind.prepare``), through the studio's engine and scheduler. Printed
per template and overall (products/kinds/copy_checks.py defines each check):
- facts: share of variants that mention every required fact (target >= 80 %);
- clean: share that end with a complete sentence, or for a headline or subject line, not cut off
  (target >= 95 %);
- invented: share with a link, hashtag, handle or date that is not in the inputs (target <= 5 %).
``--baseline`` runs the templates as they were before the copy-quality work, for the before/after table.
Quality figures, not speed: a script, not a test.
"""

from __future__ import annotations

import argparse
import json
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

from inference.engines.base import GenerationParams, GenerationRequest  # noqa: E402
from products.kinds import copy_checks  # noqa: E402
from products.kinds.base import PrepareContext  # noqa: E402
from products.kinds.registry import get_kind  # noqa: E402
from products.kinds.settings import GenerationSettings  # noqa: E402
from products.models import Product  # noqa: E402

INPUTS = json.loads((REPO_ROOT / "tests/benchmarks/data/copy_inputs.json").read_text())
SHORT = {"ad-headlines", "email-subject-lines"}
# How the templates read before this work (for --baseline): the prompt, system prompt and settings.
BASELINE = {
    "system": "You are an expert marketing copywriter. Write clear, vivid, honest copy. Reply with the copy only.",
    "product-description": ("Write a {tone} product description aimed at {audience}.\nProduct: {product}\n"
                            "Key features:\n{features}", 0.7, 160),
    "ad-headlines": ("Write one {tone} ad headline, under 10 words, for {product}. Main benefit: {benefit}.", 0.9, 24),
    "social-post": ("Write a {tone} {platform} post announcing: {topic}", 0.8, 120),
    "email-subject-lines": ("Write one email subject line of at most {max_words} words for {audience}. "
                            "The email is about: {email_about}", 0.9, 24),
}


def product_for(template_id: str, *, baseline: bool) -> tuple[Product, GenerationSettings]:
    kind = get_kind("copywriting")
    template = kind.template(template_id)
    product = Product(kind="copywriting", template_id=template_id, system_prompt=template.system_prompt,
                      prompt_template=template.prompt_template,
                      input_schema=[field.to_dict() for field in template.inputs],
                      kind_config=kind.clean_config(template.kind_config))
    settings = template.settings
    if baseline:
        prompt, creativity, length = BASELINE[template_id]
        product.system_prompt, product.prompt_template = BASELINE["system"], prompt
        product.kind_config = {}  # no worked examples, no one-line stop
        settings = GenerationSettings(creativity=creativity, length=length, variants=1)
    return product, settings


def requests_for(template_id: str, sets: int, seeds: int, *, baseline: bool) -> list[tuple[dict, GenerationRequest]]:
    kind = get_kind("copywriting")
    product, settings = product_for(template_id, baseline=baseline)
    out = []
    for inputs in INPUTS[template_id][:sets]:
        cleaned = kind.clean_inputs(product, inputs)
        prepared = kind.prepare(product, cleaned, PrepareContext(settings=settings))
        known = {k: v for k, v in prepared.params.items() if k in GenerationParams.__dataclass_fields__}
        if baseline:  # neither stop strings nor sentence endings existed
            known.pop("stop", None)
            known.pop("end_on_sentence", None)
        for seed in range(seeds):
            known["stop"] = tuple(known.get("stop", ()))
            params = GenerationParams(**{**known, "seed": seed, "max_seconds": 600})
            out.append((cleaned, GenerationRequest(messages=prepared.messages, params=params)))
    return out


def scheduler():
    from inference.registry import DEFAULT_MODEL_ID
    from inference.runtime import scheduler_for

    return scheduler_for(DEFAULT_MODEL_ID, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sets", type=int, default=20)
    parser.add_argument("--templates", default=",".join(INPUTS))
    parser.add_argument("--baseline", action="store_true", help="the templates as they were before this work")
    parser.add_argument("--show", type=int, default=2, help="print this many outputs per template")
    args = parser.parse_args()

    from django.conf import settings

    from inference.install import install_bundled_models

    install_bundled_models(Path(settings.MODELS_DIR))
    engine = scheduler()
    # Every variant is queued at once: on a busy machine the later ones wait past the 120 s queue
    # limit and would count as failed copy, so the wait is not limited here.
    engine.queue_wait_s = float("inf")
    totals = {"n": 0, "facts": 0, "clean": 0, "invented": 0, "tokens": 0}
    started = time.perf_counter()
    print(f"{'baseline' if args.baseline else 'current'} templates, {args.sets} input sets x {args.seeds} seeds")
    for template_id in args.templates.split(","):
        jobs = requests_for(template_id, args.sets, args.seeds, baseline=args.baseline)
        handles = [(inputs, engine.submit(request)) for inputs, request in jobs]
        counts = {"n": 0, "facts": 0, "clean": 0, "invented": 0, "tokens": 0}
        for shown, (inputs, handle) in enumerate(handles):
            result = handle.result()
            text = result.text
            facts = copy_checks.required_facts(template_id, inputs)
            missing = [fact.text for fact in facts if not copy_checks.mentions(fact, text)]
            all_facts = not missing
            short = template_id in SHORT
            clean = copy_checks.ends_cleanly(text, short=short) and not (short and result.finish_reason == "length")
            made_up = copy_checks.invented(text, inputs)
            counts["n"] += 1
            counts["facts"] += all_facts
            counts["clean"] += clean
            counts["invented"] += bool(made_up)
            counts["tokens"] += result.completion_tokens
            if shown < args.show:
                print(f"  [{template_id}] missing={missing} clean={clean} invented={made_up} "
                      f"finish={result.finish_reason}\n    {text!r}")
        n = counts["n"]
        print(f"{template_id:22s} n={n:3d}  facts {counts['facts'] / n:5.0%}  clean {counts['clean'] / n:5.0%}  "
              f"invented {counts['invented'] / n:5.0%}  mean tokens {counts['tokens'] / n:5.1f}")
        for key in totals:
            totals[key] += counts[key]
    n = totals["n"]
    print(f"{'all':22s} n={n:3d}  facts {totals['facts'] / n:5.0%}  clean {totals['clean'] / n:5.0%}  "
          f"invented {totals['invented'] / n:5.0%}  ({time.perf_counter() - started:.0f} s, "
          f"{totals['tokens']} tokens; targets: facts >= 80 %, clean >= 95 %, invented <= 5 %)")
    engine.shutdown()


if __name__ == "__main__":
    main()
