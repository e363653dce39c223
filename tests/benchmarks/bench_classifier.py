"""Classifier benchmarks (a script, not a test: it prints figures and asserts nothing timed).

    .venv/bin/python tests/benchmarks/bench_classifier.py [--device cpu] [--epochs 3] [--folds 1] [--speed-texts 256]
        [--threads 1]

1. Quality: accuracy and macro-F1 of the studio's fine-tuned MiniLM classifier against the frozen
   baseline (MiniLM mean-pooled embeddings + logistic regression), on the same split. The data set:
   NO public labelled set could be installed here (only PyPI is reachable, and no PyPI package found
   ships one — e.g. `nltkdata` and `textbook` hold no data), so this runs on the studio's own shipped
   sample products/datasets/samples/support_tickets.csv (300 support messages, 5 labels, written for
   the studio). It is easy, hand-written data: its figures show the pipeline works, not how the
   classifier compares with published results (movie-review polarity and its 0.815 CNN baseline).
   Each fold holds out 20 % stratified by label (products/datasets/split.py, seed = fold), keeps 15 %
   of the rest for early stopping as the worker does, and trains with the worker's own blocks
   (inference/training/classifier/: model, trainer, report) and the studio's defaults for the size.
   The fast serving precisions (bf16, int8) are scored on the same held-out rows as fp32: their
   label agreement with fp32 and their accuracy, side by side.
2. Training speed: tokens/s and seconds per epoch of the trainer on this device, the share of padded
   tokens in its batches, and what one epoch of 10k such texts would take at that rate.
3. Serving speed: texts/s of the classify runner's scoring function one text at a time and in
   batches (what the micro-batcher does when requests arrive together), and p50/p95 of one text, for
   fp32 and each fast precision, interleaved round by round so a busy shared machine slows all alike;
   the ratios to fp32 are the figures to trust, the absolute ones move with the machine's load.
   Not measured here: p95 of one text through the REST API. That needs a live server (tests/live.py)
   with a published classifier version and an API key on a database; the API adds its own queue hop
   (web → Redis → inference worker) on top of the scoring time measured here.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

SAMPLE = REPO_ROOT / "products" / "datasets" / "samples" / "support_tickets.csv"


def load_rows() -> list[tuple[str, str]]:
    with SAMPLE.open(newline="") as handle:
        return [(row["message"], row["category"]) for row in csv.DictReader(handle)]


def split(rows, fraction: float, seed: int):
    from products.datasets.split import stratified_validation_flags, validation_size

    flags = stratified_validation_flags([label for _, label in rows], validation_size(len(rows), fraction), seed)
    return ([r for r, f in zip(rows, flags, strict=True) if not f], [r for r, f in zip(rows, flags, strict=True) if f])


def run_fold(rows, *, seed: int, device: str, epochs: int | None, model_dir: Path):
    import numpy as np
    import torch

    from inference.training.classifier import report
    from inference.training.classifier.model import (
        embeddings_of,
        encode,
        init_head,
        load_tokenizer,
        logits_of,
        new_classifier,
    )
    from inference.training.classifier.trainer import ClassifierTrainer, snapshot
    from products.training.hyperparameters import classifier_defaults_for

    train_all, held = split(rows, 0.2, seed)
    train, dev = split(train_all, 0.15, seed)
    labels = sorted({label for _, label in rows})
    index = {label: i for i, label in enumerate(labels)}
    params = classifier_defaults_for(train_examples=len(train_all), device=device)
    if epochs:
        from dataclasses import replace

        params = replace(params, epochs=epochs)
    tokenizer = load_tokenizer(model_dir)
    ids = {name: encode(tokenizer, [t for t, _ in part], max_length=params.max_length)
           for name, part in (("train", train), ("dev", dev), ("held", held))}
    ys = {name: np.array([index[label] for _, label in part]) for name, part in
          (("train", train), ("dev", dev), ("held", held))}
    model = new_classifier(model_dir, len(labels), seed=params.seed).to(device)
    embed = {name: embeddings_of(model, ids[name], batch_size=64, pad_id=0, device=device).numpy() for name in ids}
    baseline, _ = report.fit_baseline(embed["train"], ys["train"], embed["dev"], ys["dev"], seed=params.seed)
    base = report.classification_metrics(ys["held"], report.baseline_probabilities(baseline, embed["held"],
                                                                                    len(labels)), labels)
    init_head(model, *report.head_from_baseline(baseline, len(labels), model.head.in_features))
    trainer = ClassifierTrainer(model, ids["train"], ys["train"].tolist(), num_labels=len(labels), params=params,
                                device=device, pad_id=0)
    best, best_score, bad, started = None, None, 0, time.perf_counter()
    for step_index in range(trainer.total_steps):
        trainer.train_step(step_index)
        if (step_index + 1) % trainer.steps_per_epoch == 0:
            logits = logits_of(model, ids["dev"], batch_size=64, pad_id=0, device=device).numpy()
            scored = report.classification_metrics(ys["dev"], report.softmax(logits), labels)
            loss = float(torch.nn.functional.cross_entropy(torch.as_tensor(logits), torch.as_tensor(ys["dev"])))
            score = (scored["macro_f1"], -loss)
            if best_score is None or score > best_score:
                best_score, best, bad = score, snapshot(model), 0
            else:
                bad += 1
                if bad >= 1:
                    break
    seconds = time.perf_counter() - started
    if best is not None:
        model.load_state_dict(best)
    logits = logits_of(model, ids["held"], batch_size=64, pad_id=0, device=device).numpy()
    fast = fast_paths(model, logits, ids["held"], ys["held"], device=device)
    probabilities, temperature, _ = report.cross_fitted_probabilities(logits, ys["held"], seed=seed)
    tuned = report.classification_metrics(ys["held"], probabilities, labels)
    epochs_run = (step_index + 1) / trainer.steps_per_epoch
    return {
        "base": base, "tuned": tuned, "temperature": temperature,
        "ece": report.calibration(ys["held"], probabilities)["ece"],
        "train_seconds": seconds, "epochs": epochs_run, "tokens_per_second": trainer.tokens_seen / seconds,
        "held": len(held), "train": len(train), "dev": len(dev), "params": params, "fast": fast,
        "padding_share": padding_share(trainer), "mean_tokens": statistics.mean(len(row) for row in ids["train"]),
    }


def fast_paths(model, logits, ids, y, *, device: str) -> dict[str, dict[str, float]]:
    """Accuracy (argmax; temperature does not move it) of fp32 and of each fast precision on the same rows,
    and how often the fast one picks fp32's label."""
    import copy

    from inference.training.classifier.model import for_serving, logits_of, resolve_precision

    reference = logits.argmax(axis=1)
    figures = {"fp32": {"accuracy": float((reference == y).mean()), "agreement": 1.0}}
    for precision in ("bf16", "int8"):
        try:
            fast = for_serving(copy.deepcopy(model).eval(), resolve_precision(precision, device=device))
        except ValueError as exc:  # int8 on a GPU
            print(f"  {precision}: {exc}")
            continue
        predicted = logits_of(fast, ids, batch_size=64, pad_id=0, device=device).numpy().argmax(axis=1)
        figures[precision] = {"accuracy": float((predicted == y).mean()),
                              "agreement": float((predicted == reference).mean())}
    return figures


def padding_share(trainer) -> float:
    """Share of the tokens in the first epoch's padded batches that are padding (dynamic padding per batch)."""
    real = padded = 0
    for step_index in range(trainer.steps_per_epoch):
        lengths = [len(trainer.ids[i]) for i in trainer.batch(step_index)]
        real, padded = real + sum(lengths), padded + max(lengths) * len(lengths)
    return 1 - real / padded


PRECISIONS = ("fp32", "bf16", "int8")


def speed(model_dir: Path, texts: list[str], device: str, tmp: Path, *, rounds: int) -> dict[str, dict[str, float]]:
    """Serving speed of the runner's scoring function on an artifact saved by the trainer's code, per precision.

    Each round times every precision once (a batched pass over ``texts`` in 64s, then 16 single texts),
    so load on the shared machine lands on all of them alike.
    """
    from inference.runners import classify
    from inference.training.classifier.model import ClassifierMeta, new_classifier, save_classifier

    folder = tmp / "artifact"
    folder.mkdir(parents=True, exist_ok=True)
    meta = ClassifierMeta(labels=list("abcde"), temperature=1.0, max_length=64, encoder="all-minilm-l6-v2")
    save_classifier(new_classifier(model_dir, 5, seed=0), folder=folder, model_dir=model_dir, meta=meta)
    precisions = [p for p in PRECISIONS if not (p == "int8" and not device.startswith("cpu"))]
    singles: dict[str, list[float]] = {p: [] for p in precisions}
    batched: dict[str, float] = dict.fromkeys(precisions, 0.0)
    for precision in precisions:
        classify.score(str(folder), texts[:8], precision=precision)  # load and warm up
    for round_index in range(rounds):
        for precision in precisions:
            started = time.perf_counter()
            for start in range(0, len(texts), 64):
                classify.score(str(folder), texts[start:start + 64], precision=precision)
            batched[precision] += time.perf_counter() - started
            for text in texts[round_index * 16:(round_index + 1) * 16]:
                started = time.perf_counter()
                classify.score(str(folder), [text], precision=precision)
                singles[precision].append(time.perf_counter() - started)
    figures = {}
    for precision in precisions:
        times = sorted(singles[precision])
        figures[precision] = {"single_texts_per_s": 1 / statistics.mean(times),
                              "batched_texts_per_s": rounds * len(texts) / batched[precision],
                              "p50_ms": 1000 * times[len(times) // 2], "p95_ms": 1000 * times[int(len(times) * 0.95)]}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=0, help="0: the studio's default (3, early stopping)")
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--speed-texts", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved speed rounds (16 single texts each)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default). On a busy 2-core machine 1 is several times faster: "
                             "OpenMP's spinning threads wait on the core another process holds")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    import os
    import tempfile

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings

    from inference.install import install_bundled_models
    from inference.registry import EMBEDDING_MODEL_ID, model_path

    install_bundled_models(settings.MODELS_DIR, log=lambda _m: None)
    model_dir = model_path(Path(settings.MODELS_DIR), EMBEDDING_MODEL_ID)
    settings.INFERENCE_DEVICE = args.device
    rows = load_rows()
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    print(f"Data: {SAMPLE.name} — {len(rows)} rows, {len({label for _, label in rows})} labels (the studio's own "
          "hand-written sample, NOT a public benchmark set: none could be installed from PyPI here).")
    results = []
    for fold in range(args.folds):
        result = run_fold(rows, seed=fold, device=args.device, epochs=args.epochs or None, model_dir=model_dir)
        results.append(result)
        p = result["params"]
        print(f"fold {fold}: train {result['train']} + dev {result['dev']}, held out {result['held']}; "
              f"batch {p.batch_size}, lr {p.learning_rate}, max {p.max_length} tokens, "
              f"{result['epochs']:.0f} epoch(s) in {result['train_seconds']:.1f} s "
              f"({result['tokens_per_second']:.0f} training tokens/s)")
        print(f"  baseline  accuracy {result['base']['accuracy']:.3f}  macro-F1 {result['base']['macro_f1']:.3f}")
        print(f"  fine-tuned accuracy {result['tuned']['accuracy']:.3f}  macro-F1 {result['tuned']['macro_f1']:.3f}"
              f"  (T = {result['temperature']:.3f}, ECE {result['ece']:.3f})")
        for precision, scored in result["fast"].items():
            print(f"  served in {precision}: accuracy {scored['accuracy']:.3f} on the same {result['held']} held-out "
                  f"rows, label agreement with fp32 {scored['agreement']:.3f}")
        per_text = result["mean_tokens"] * result["epochs"] / result["tokens_per_second"]
        print(f"  training: {result['padding_share']:.0%} of batch tokens are padding; "
              f"{result['mean_tokens']:.1f} tokens per text; one epoch of 10k such texts ≈ "
              f"{10_000 * per_text / result['epochs'] / 60:.1f} min at this rate")
    if len(results) > 1:
        for name in ("base", "tuned"):
            accuracy = statistics.mean(r[name]["accuracy"] for r in results)
            f1 = statistics.mean(r[name]["macro_f1"] for r in results)
            print(f"mean over {len(results)} folds, {name}: accuracy {accuracy:.3f}, macro-F1 {f1:.3f}")
    texts = [text for text, _ in rows] * (1 + args.speed_texts // len(rows))
    with tempfile.TemporaryDirectory() as tmp:
        figures = speed(model_dir, texts[: args.speed_texts], args.device, Path(tmp), rounds=args.rounds)
    reference = figures["fp32"]
    for precision, row in figures.items():
        ratio = row["batched_texts_per_s"] / reference["batched_texts_per_s"]
        print(f"serving on {args.device} in {precision}: one text at a time {row['single_texts_per_s']:.0f} texts/s "
              f"(p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms); batches of 64: "
              f"{row['batched_texts_per_s']:.0f} texts/s; vs fp32 ×{ratio:.2f}"
              f" batched, ×{row['single_texts_per_s'] / reference['single_texts_per_s']:.2f} single")
    from django.conf import settings as live

    from inference.training.classifier.model import resolve_precision

    print(f"the runner's default (CLASSIFY_PRECISION={live.CLASSIFY_PRECISION}) serves here in "
          f"{resolve_precision(live.CLASSIFY_PRECISION, device=args.device)}")


if __name__ == "__main__":
    main()
