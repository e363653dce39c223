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
2. Training speed: tokens/s and seconds per epoch of the trainer on this device.
3. Serving speed: texts/s of the classify runner's scoring function one text at a time and in
   batches (what the micro-batcher does when requests arrive together), and p50/p95 of one text.
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
    probabilities, temperature, _ = report.cross_fitted_probabilities(logits, ys["held"], seed=seed)
    tuned = report.classification_metrics(ys["held"], probabilities, labels)
    epochs_run = (step_index + 1) / trainer.steps_per_epoch
    return {
        "base": base, "tuned": tuned, "temperature": temperature,
        "ece": report.calibration(ys["held"], probabilities)["ece"],
        "train_seconds": seconds, "epochs": epochs_run, "tokens_per_second": trainer.tokens_seen / seconds,
        "held": len(held), "train": len(train), "dev": len(dev), "params": params,
    }


def speed(model_dir: Path, texts: list[str], device: str, tmp: Path) -> dict[str, float]:
    """Serving speed of the runner's scoring function on an artifact saved by the trainer's code."""
    from inference.runners import classify
    from inference.training.classifier.model import ClassifierMeta, new_classifier, save_classifier

    folder = tmp / "artifact"
    folder.mkdir(parents=True, exist_ok=True)
    meta = ClassifierMeta(labels=list("abcde"), temperature=1.0, max_length=64, encoder="all-minilm-l6-v2")
    save_classifier(new_classifier(model_dir, 5, seed=0), folder=folder, model_dir=model_dir, meta=meta)
    classify.score(str(folder), texts[:8])  # load and warm up
    singles = []
    for text in texts[:64]:
        started = time.perf_counter()
        classify.score(str(folder), [text])
        singles.append(time.perf_counter() - started)
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        classify.score(str(folder), texts[start:start + 64])
    batched = len(texts) / (time.perf_counter() - started)
    singles.sort()
    return {"single_texts_per_s": 1 / statistics.mean(singles), "batched_texts_per_s": batched,
            "p50_ms": 1000 * singles[len(singles) // 2], "p95_ms": 1000 * singles[int(len(singles) * 0.95)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=0, help="0: the studio's default (3, early stopping)")
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--speed-texts", type=int, default=256)
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
    if len(results) > 1:
        for name in ("base", "tuned"):
            accuracy = statistics.mean(r[name]["accuracy"] for r in results)
            f1 = statistics.mean(r[name]["macro_f1"] for r in results)
            print(f"mean over {len(results)} folds, {name}: accuracy {accuracy:.3f}, macro-F1 {f1:.3f}")
    texts = [text for text, _ in rows] * (1 + args.speed_texts // len(rows))
    with tempfile.TemporaryDirectory() as tmp:
        figures = speed(model_dir, texts[: args.speed_texts], args.device, Path(tmp))
    print(f"serving on {args.device}: one text at a time {figures['single_texts_per_s']:.0f} texts/s "
          f"(p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms); batches of 64: "
          f"{figures['batched_texts_per_s']:.0f} texts/s")


if __name__ == "__main__":
    main()
