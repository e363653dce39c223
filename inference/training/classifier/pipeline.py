"""One claimed classifier run: rows, baseline, (resumed) fine-tuning with early stopping, calibration, report, artifact.

Runs inside ``inference.training.pipeline.fine_tune``, which maps every way out (cancel, lease lost,
shutdown, too few rows, errors) to the run row exactly as for a LoRA run. Progress goes through the same
ProgressReporter (training loss points, one validation-loss point and one log line with validation
accuracy and macro-F1 per epoch), and a checkpoint is written at the end of every epoch (and when the
worker shuts down), so a run whose worker is SIGKILLed resumes from its last epoch.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings

from inference.engines.local import resolve_device
from inference.models import ModelArtifact, TrainingRun
from inference.registry import model_path
from inference.training import services
from inference.training.artifacts import artifact_folder_write
from inference.training.checkpoints import latest_checkpoint, remove_checkpoints, write_checkpoint
from inference.training.classifier import report
from inference.training.classifier.data import LabelledData, labelled_data
from inference.training.classifier.model import (
    WEIGHTS_FILE,
    ClassifierMeta,
    embeddings_of,
    encode,
    init_head,
    load_tokenizer,
    logits_of,
    new_classifier,
    save_classifier,
)
from inference.training.classifier.trainer import ClassifierTrainer, snapshot
from inference.training.progress import CancelRequested, LeaseLost, ProgressReporter, ShutdownRequested
from products.training.hyperparameters import MIN_TRAIN_EXAMPLES, HyperParameters, too_few_examples_message

logger = logging.getLogger(__name__)

EVAL_BATCH = 64
#: Epochs without a better dev macro-F1 before training stops.
PATIENCE = 1
BASELINE_NAME = "Frozen MiniLM embeddings + logistic regression"


def _checkpoint_root(run_id: int) -> Path:
    from inference.training.pipeline import checkpoint_root

    return checkpoint_root(run_id)


def train_classifier(run: TrainingRun, params: HyperParameters, *, worker: str, shutdown: threading.Event,
                     lease_lost: threading.Event) -> None:
    from inference.training.pipeline import TooFewExamples

    device = resolve_device(settings.INFERENCE_DEVICE)
    model_dir = model_path(Path(settings.MODELS_DIR), run.base_model)
    data = labelled_data(run.dataset_version, seed=params.seed)  # before the model loads: bad rows fail fast
    if len(data.train.texts) + len(data.dev.texts) < MIN_TRAIN_EXAMPLES:
        raise TooFewExamples(too_few_examples_message(len(data.train.texts) + len(data.dev.texts)))
    tokenizer = load_tokenizer(model_dir)
    pad_id = tokenizer.pad_token_id or 0
    ids = {name: encode(tokenizer, rows.texts, max_length=params.max_length)
           for name, rows in (("train", data.train), ("dev", data.dev), ("held_out", data.held_out))}
    labels = data.labels
    model = new_classifier(model_dir, len(labels), seed=params.seed).to(device)
    trainer = ClassifierTrainer(model, ids["train"], data.train.y, num_labels=len(labels), params=params,
                                device=device, pad_id=pad_id)

    root = _checkpoint_root(run.pk)
    checkpoint = latest_checkpoint(root)
    start, best, state = 0, None, {}
    if checkpoint is not None and checkpoint.step < trainer.total_steps:
        state, best = trainer.load_state(checkpoint.path)
        start = checkpoint.step
    if start:
        message = (f"Resumed from the checkpoint at step {start} of {trainer.total_steps} (epoch "
                   f"{trainer.epoch_of(start)}) on the {device.upper()}.")
        baseline = state["baseline"]
    else:
        baseline = _baseline(model, data, ids, labels, params=params, device=device, pad_id=pad_id)
        init_head(model, np.asarray(baseline.pop("head_weight")), np.asarray(baseline.pop("head_bias")))
        message = (
            f"Training the classifier on the {device.upper()}: {len(data.train.texts)} examples, "
            f"{len(data.dev.texts)} kept aside for early stopping, {len(labels)} labels, up to {params.epochs} "
            f"epoch{'' if params.epochs == 1 else 's'} of {trainer.steps_per_epoch} steps. The frozen baseline "
            f"scores {baseline['accuracy']:.1%} accuracy on the {len(data.held_out.texts)} held-out rows."
        )
    reporter = ProgressReporter.started_run(
        run_id=run.pk, worker=worker, train_examples=len(data.train.texts),
        validation_examples=len(data.held_out.texts),
        total_steps=trainer.total_steps, device=device, start_step=start, message=message,
        shutdown=shutdown, lease_lost=lease_lost,
    )
    history: list[dict[str, Any]] = state.get("history", [])
    tracker = {"best_score": state.get("best_score"), "bad_epochs": state.get("bad_epochs", 0), "stop": False}
    # Without dev rows the held-out rows are scored each epoch for the page only; nothing is chosen by them.
    watch_name = "dev" if data.dev.texts else "held_out"
    watch_ids, watch_y = ids[watch_name], np.asarray((data.dev if data.dev.texts else data.held_out).y)

    def save_checkpoint(step: int) -> None:
        extra = {"run": run.pk, "baseline": baseline, "history": history, "best_score": tracker["best_score"],
                 "bad_epochs": tracker["bad_epochs"]}
        write_checkpoint(root, step, lambda folder: trainer.save_state(folder, step=step, best=best, extra=extra))
        if not services.training_run_checkpoint_record(run_id=run.pk, worker=worker, step=step):
            raise LeaseLost

    def end_of_epoch(step: int) -> None:
        nonlocal best
        epoch = trainer.epoch_of(step)
        entry: dict[str, Any] = {"epoch": epoch, "step": step, "train_loss": reporter.last_train_loss}
        if len(watch_y):
            logits = logits_of(model, watch_ids, batch_size=EVAL_BATCH, pad_id=pad_id, device=device).numpy()
            probabilities = report.softmax(logits)
            loss = float(torch.nn.functional.cross_entropy(torch.as_tensor(logits), torch.as_tensor(watch_y)))
            scored = report.classification_metrics(watch_y, probabilities, labels)
            entry.update(split=watch_name, validation_loss=loss, validation_accuracy=scored["accuracy"],
                         validation_macro_f1=scored["macro_f1"])
            reporter.record_validation(step, loss, trainer.tokens_seen)
            if watch_name == "dev":
                score = (scored["macro_f1"], -loss)
                if tracker["best_score"] is None or score > tuple(tracker["best_score"]):
                    tracker["best_score"], tracker["bad_epochs"] = list(score), 0
                    best = snapshot(model)
                    entry["best"] = True
                else:
                    tracker["bad_epochs"] += 1
                    tracker["stop"] = tracker["bad_epochs"] >= PATIENCE
            words = "dev" if watch_name == "dev" else "held-out"
            line = (f"Epoch {epoch} of {params.epochs}: {words} accuracy {scored['accuracy']:.1%}, macro-F1 "
                    f"{scored['macro_f1']:.3f}, loss {loss:.3f}.")
        else:
            line = f"Epoch {epoch} of {params.epochs} done (no rows to score it on)."
        history.append(entry)
        services.training_run_log(run_id=run.pk, worker=worker, message=line)

    for step_index in range(start, trainer.total_steps):
        result = trainer.train_step(step_index)
        try:
            reporter.after_step(result.step, result.loss, trainer.tokens_seen)
        except ShutdownRequested:
            save_checkpoint(result.step)
            raise
        last = result.step == trainer.total_steps
        if result.step % trainer.steps_per_epoch == 0 or last:
            end_of_epoch(result.step)
            if tracker["stop"] and not last:
                services.training_run_log(run_id=run.pk, worker=worker, message=(
                    f"Stopped early after epoch {trainer.epoch_of(result.step)}: the dev macro-F1 did not improve. "
                    "Keeping the best epoch's model."))
                break
            if not last:
                save_checkpoint(result.step)

    cancel, lost = services.training_run_should_stop(run_id=run.pk, worker=worker)
    if lost or lease_lost.is_set():
        raise LeaseLost
    if cancel:
        raise CancelRequested
    if best is not None:
        model.load_state_dict(best)
    evaluation, temperature = _evaluate(model, data, ids, labels, baseline, history, params=params, device=device,
                                        pad_id=pad_id)
    meta = ClassifierMeta(labels=labels, temperature=temperature, max_length=params.max_length,
                          encoder=run.base_model)
    artifact = _save_artifact(model, model_dir=model_dir, meta=meta, run_id=run.pk)
    if lease_lost.is_set() or services.training_run_succeed(
        run_id=run.pk, worker=worker, artifact=artifact, evaluation=evaluation
    ) is None:
        raise LeaseLost
    remove_checkpoints(root)


def _baseline(model, data: LabelledData, ids, labels, *, params, device, pad_id) -> dict[str, Any]:
    """The frozen encoder's embeddings + logistic regression, scored on the held-out rows, and its head weights."""
    embed = {name: embeddings_of(model, ids[name], batch_size=EVAL_BATCH, pad_id=pad_id, device=device).numpy()
             for name in ids if ids[name]}
    fitted, c = report.fit_baseline(embed["train"], np.asarray(data.train.y), embed.get("dev", np.zeros((0, 1))),
                                    np.asarray(data.dev.y), seed=params.seed)
    result: dict[str, Any] = {"name": BASELINE_NAME, "C": c}
    if data.held_out.texts:
        probabilities = report.baseline_probabilities(fitted, embed["held_out"], len(labels))
        y = np.asarray(data.held_out.y)
        result |= report.classification_metrics(y, probabilities, labels)
        result["ece"] = report.calibration(y, probabilities)["ece"]
    else:
        result |= {"accuracy": None, "macro_f1": None, "roc_auc": None}
    weight, bias = report.head_from_baseline(fitted, len(labels), model.head.in_features)
    result["head_weight"], result["head_bias"] = weight.tolist(), bias.tolist()
    return result


def _evaluate(model, data: LabelledData, ids, labels, baseline, history, *, params, device, pad_id):
    """(EvaluationReport fields, the temperature the product serves)."""
    y = np.asarray(data.held_out.y)
    if not len(y):
        return None, 1.0
    logits = logits_of(model, ids["held_out"], batch_size=EVAL_BATCH, pad_id=pad_id, device=device).numpy()
    probabilities, temperature, cross_fitted = report.cross_fitted_probabilities(logits, y, seed=params.seed)
    tuned = report.classification_metrics(y, probabilities, labels)
    uncalibrated = report.calibration(y, report.softmax(logits))
    tuned |= {
        "calibration": report.calibration(y, probabilities) | {
            "temperature": temperature, "cross_fitted": cross_fitted, "ece_before": uncalibrated["ece"]},
        "most_wrong": report.most_wrong(data.held_out.texts, y, probabilities, labels),
        "thresholds": report.thresholds(y, probabilities),
        "predictions": report.predictions(data.held_out.texts, y, probabilities),
    }
    metrics = {
        "kind": "classifier", "labels": labels, "tuned": tuned, "base": baseline, "epochs": history,
        "train_examples": len(data.train.texts), "dev_examples": len(data.dev.texts),
        "max_length": params.max_length,
    }
    return {"examples": len(y), "metrics": metrics}, temperature


def _save_artifact(model, *, model_dir: Path, meta: ClassifierMeta, run_id: int) -> dict[str, Any]:
    """Write the artifact folder atomically under MEDIA_ROOT; the ModelArtifact fields."""
    relative, files = artifact_folder_write(
        media_root=Path(settings.MEDIA_ROOT), run_id=run_id,
        write=lambda folder: save_classifier(model, folder=folder, model_dir=model_dir, meta=meta))
    weights = next(f for f in files if f["name"] == WEIGHTS_FILE)
    labels_hash = hashlib.sha256("\n".join(meta.labels).encode()).hexdigest()
    return {
        "kind": ModelArtifact.Kind.CLASSIFIER, "path": relative, "sha256": weights["sha256"],
        "size_bytes": sum(f["size"] for f in files), "files": files,
        "metadata": meta.to_dict() | {"labels_sha256": labels_hash},
    }
