"""One claimed run from start to finish: data, model, (resumed) training, artifact, evaluation.

Every way a run can end goes through a service, so the row always says what happened in words:
succeeded, cancelled, failed (too few examples, out of memory, an error) or given back to the queue
(this worker shuts down) — or nothing at all when the lease was lost, because another worker owns it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from inference.engines.local import resolve_device
from inference.models import TrainingRun
from inference.registry import model_path
from inference.training import services
from inference.training.artifacts import save_adapter
from inference.training.batching import padding_fraction, training_plan
from inference.training.checkpoints import latest_checkpoint, remove_checkpoints, write_checkpoint
from inference.training.classifier.data import NotClassifiable
from inference.training.conversations import dataset_version_conversations
from inference.training.examples import TokenizedSplit, tokenize_all
from inference.training.passages import Tally, grounded, run_grounding, tally_message
from inference.training.progress import (
    CancelRequested,
    LeaseLost,
    ProgressReporter,
    ShutdownRequested,
)
from inference.training.recommender import NotRecommendable
from products.training.hyperparameters import MIN_TRAIN_EXAMPLES, HyperParameters, too_few_examples_message

logger = logging.getLogger(__name__)

#: Held-out examples the validation loss is measured on during training (the final report uses all).
VALIDATION_DURING_TRAINING = 64
#: Validation points on the loss curve of a run (at least; checkpoints add theirs).
VALIDATION_POINTS = 5


class TooFewExamples(Exception):
    pass


def checkpoint_root(run_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "training" / "checkpoints" / f"run-{run_id}"


def out_of_memory_message(params: HyperParameters) -> str:
    return (
        f"The model ran out of memory at batch size {params.batch_size}. Try a smaller batch size (or a shorter "
        "maximum length) under “Advanced settings”, then start the run again."
    )


#: How PyTorch words running out of memory on a GPU ("CUDA out of memory") and on a CPU ("DefaultCPUAllocator:
#: not enough memory", "can't allocate memory").
_OUT_OF_MEMORY_WORDS = ("out of memory", "not enough memory", "can't allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(words in str(exc).lower() for words in _OUT_OF_MEMORY_WORDS)


def failure_message(exc: BaseException, params: HyperParameters) -> str:
    """What the run page says when training raised ``exc``: out of memory names the fix, anything else the error."""
    if is_out_of_memory(exc):
        return out_of_memory_message(params)
    return (
        f"Training stopped because of an error: {exc}. Start the run again; if it fails the same way, "
        "tell whoever runs this studio."
    )


def fine_tune(run: TrainingRun, *, worker: str, shutdown: threading.Event, lease_lost: threading.Event) -> None:
    """Train the claimed ``run`` and record how it ended."""
    params = HyperParameters.from_dict(run.hyperparameters)
    try:
        _trainer_for(run.method)(run, params, worker=worker, shutdown=shutdown, lease_lost=lease_lost)
    except CancelRequested:
        if services.training_run_cancelled(run_id=run.pk, worker=worker):
            remove_checkpoints(checkpoint_root(run.pk))
    except LeaseLost:
        logger.warning("Training run %s: lease lost; another worker owns it now", run.pk)
    except ShutdownRequested:
        services.training_run_release(run_id=run.pk, worker=worker)
    except (TooFewExamples, NotClassifiable, NotRecommendable) as exc:
        services.training_run_fail(run_id=run.pk, worker=worker, error=str(exc))
    except Exception as exc:
        if is_out_of_memory(exc):
            logger.warning("Training run %s ran out of memory", run.pk)
        else:
            logger.exception("Training run %s failed", run.pk)
        services.training_run_fail(run_id=run.pk, worker=worker, error=failure_message(exc, params))
    finally:
        _free_accelerator_memory()


def _trainer_for(method: str):
    """The function that trains a run of ``method`` (TrainingRun.Method); each has the same signature."""
    if method == TrainingRun.Method.CLASSIFIER:
        from inference.training.classifier.pipeline import train_classifier

        return train_classifier
    if method == TrainingRun.Method.RECOMMENDER:
        from inference.training.recommender.pipeline import train_recommender

        return train_recommender
    if method == TrainingRun.Method.LORA:
        return _train_and_evaluate
    raise ValueError(f"This studio cannot train runs of method {method!r} yet.")


@dataclass
class _Data:
    train: TokenizedSplit
    validation: TokenizedSplit
    passages_note: str = ""  # the run page's line on retrieved passages ("" for a product without knowledge)


def _load_data(run: TrainingRun, tokenizer, params: HyperParameters) -> _Data:
    version, kind = run.dataset_version, run.product.kind
    grounding, note = run_grounding(run.team_id, run.prompt_config or {})
    tallies = {"train": Tally(), "validation": Tally()}

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def split(name: str, keep: bool) -> TokenizedSplit:
        items = dataset_version_conversations(version, kind_id=kind, prompt_config=run.prompt_config, split=name)
        if grounding is not None:
            items = grounded(items, grounding, count=count, max_length=params.max_length, tally=tallies[name])
        return tokenize_all(tokenizer, items, max_length=params.max_length, keep_conversations=keep)

    data = _Data(split("train", False), split("validation", True), note)
    if grounding is not None:
        data.passages_note = tally_message(tallies["train"], tallies["validation"],
                                           knowledge=str(grounding.index.dataset_version))
    if len(data.train.examples) < MIN_TRAIN_EXAMPLES:
        raise TooFewExamples(too_few_examples_message(len(data.train.examples)))
    return data


def _train_and_evaluate(
    run: TrainingRun, params: HyperParameters, *, worker: str, shutdown: threading.Event, lease_lost: threading.Event,
) -> None:
    from inference.training.evaluation import evaluate
    from inference.training.losses import mean_reply_loss
    from inference.training.trainer import Trainer, load_lora_model, load_tokenizer, pad_token_id

    device = resolve_device(settings.INFERENCE_DEVICE)
    model_dir = model_path(Path(settings.MODELS_DIR), run.base_model)
    tokenizer = load_tokenizer(model_dir)
    data = _load_data(run, tokenizer, params)  # before the model loads: a too-small dataset fails fast
    model = load_lora_model(model_dir, device=device, params=params)
    lengths = [example.length for example in data.train.examples]
    plan = training_plan(lengths, params.batch_size, epochs=params.epochs, seed=params.seed)
    pad_id = pad_token_id(tokenizer)
    trainer = Trainer(model, data.train.examples, plan, params=params, device=device, pad_id=pad_id)

    root = checkpoint_root(run.pk)
    checkpoint = latest_checkpoint(root)
    start = 0
    if checkpoint is not None and checkpoint.step < trainer.total_steps:
        trainer.load_state(checkpoint.path)
        start = checkpoint.step
    skipped = f" ({data.train.too_long} too long for the maximum length were left out)" if data.train.too_long else ""
    if start:
        message = f"Resumed from the checkpoint at step {start} of {trainer.total_steps} on the {device.upper()}."
    else:
        message = (
            f"Training on the {device.upper()}: {len(data.train.examples)} examples{skipped}, "
            f"{trainer.total_steps} steps, {padding_fraction(plan, lengths):.0%} padding."
        )
    if data.passages_note:
        services.training_run_log(run_id=run.pk, worker=worker, message=data.passages_note)
    reporter = ProgressReporter.started_run(
        run_id=run.pk, worker=worker, train_examples=len(data.train.examples),
        validation_examples=len(data.validation.examples),
        total_steps=trainer.total_steps, device=device, start_step=start, message=message,
        shutdown=shutdown, lease_lost=lease_lost,
    )
    held_out = data.validation.examples[:VALIDATION_DURING_TRAINING]
    # At least five validation points on the curve, and one at every checkpoint.
    validate_every = max(1, min(params.checkpoint_every, math.ceil(trainer.total_steps / VALIDATION_POINTS)))

    def save_checkpoint(step: int) -> None:
        write_checkpoint(root, step, lambda folder: trainer.save_state(folder, step=step, extra={"run": run.pk}))
        if not services.training_run_checkpoint_record(run_id=run.pk, worker=worker, step=step):
            raise LeaseLost

    def after_step(result) -> None:
        try:
            reporter.after_step(result.step, result.loss, trainer.tokens_seen)
        except ShutdownRequested:
            save_checkpoint(result.step)
            raise
        last = result.step == trainer.total_steps
        if held_out and (result.step % validate_every == 0 or last):
            loss, _ = mean_reply_loss(model, held_out, batch_size=params.batch_size, pad_id=pad_id, device=device)
            reporter.record_validation(result.step, loss, trainer.tokens_seen)
        if result.step % params.checkpoint_every == 0 and not last:
            save_checkpoint(result.step)

    trainer.train(start_step=start, after_step=after_step)

    cancel, lost = services.training_run_should_stop(run_id=run.pk, worker=worker)
    if lost or lease_lost.is_set():
        raise LeaseLost
    if cancel:
        raise CancelRequested
    artifact = save_adapter(model, media_root=Path(settings.MEDIA_ROOT), run_id=run.pk)
    report = None
    if data.validation.examples:
        held = len(data.validation.examples)
        services.training_run_log(run_id=run.pk, worker=worker, message=(
            f"Training done. Comparing the tuned model with the base model on {held} held-out "
            f"example{'' if held == 1 else 's'}."
        ))
        report = evaluate(model, tokenizer, examples=data.validation.examples,
                          conversations=data.validation.conversations, params=params, device=device, pad_id=pad_id)
    if lease_lost.is_set() or services.training_run_succeed(
        run_id=run.pk, worker=worker, artifact=artifact, evaluation=report
    ) is None:
        raise LeaseLost
    remove_checkpoints(root)


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
