"""Fine-tuning settings: defaults chosen from the dataset size and the device, and their validation.

Pure Python: the web tier uses it for the form and the pre-flight estimate, the worker for training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from django.core.exceptions import ValidationError

#: Fewer training examples than this teach a model nothing reliable.
MIN_TRAIN_EXAMPLES = 10
#: The longest example a fine-tune reads, in tokens, on every device: the one limit the dataset report, the
#: form and the run page state (batches group rows of similar length and pad to
#: their longest only, so a higher limit costs nothing on short rows).
FINE_TUNE_MAX_TOKENS = 1024


def too_few_examples_message(count: int) -> str:
    return (
        f"This dataset version has {count} training example{'' if count == 1 else 's'}; fine-tuning needs at least "
        f"{MIN_TRAIN_EXAMPLES}. Add rows to the dataset (or hold fewer rows out for validation) and try again."
    )


@dataclass(frozen=True)
class HyperParameters:
    """Everything that decides how a run trains. Stored on the run as a dict."""

    epochs: int
    learning_rate: float
    batch_size: int
    max_length: int = FINE_TUNE_MAX_TOKENS  # tokens per example; longer examples lose the end of their reply
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # 0 keeps a resumed run exactly on the path it would have taken
    warmup_fraction: float = 0.05
    checkpoint_every: int = 50  # steps
    eval_samples: int = 4  # held-out rows written by both models for the side-by-side report
    sample_tokens: int = 64  # most tokens each of those samples may have
    seed: int = 42

    # (lowest, highest, label) of what a person may set in the advanced section.
    LIMITS = {
        "epochs": (1, 50, "Epochs"),
        "learning_rate": (1e-6, 1e-2, "Learning rate"),
        "batch_size": (1, 256, "Batch size"),
        "max_length": (32, 8192, "Longest example (tokens)"),
        "lora_rank": (1, 256, "LoRA rank"),
        "lora_alpha": (1, 512, "LoRA alpha"),
        "lora_dropout": (0.0, 0.5, "LoRA dropout"),
        "warmup_fraction": (0.0, 0.5, "Warm-up"),
        "checkpoint_every": (1, 100_000, "Checkpoint every"),
        "eval_samples": (0, 64, "Samples in the report"),
        "sample_tokens": (4, 1024, "Sample length"),
        "seed": (0, 2**31 - 1, "Seed"),
    }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HyperParameters:
        """The stored dict back as settings (unknown keys ignored, missing ones defaulted)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_overrides(self, overrides: dict[str, Any]) -> HyperParameters:
        """These settings with a person's changes; ValidationError names each value out of range."""
        errors: dict[str, str] = {}
        changes: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(self)}
        for name, raw in overrides.items():
            if name not in self.LIMITS or raw in (None, ""):
                continue
            low, high, label = self.LIMITS[name]
            try:
                value = float(raw) if types[name] == "float" else int(raw)
            except (TypeError, ValueError):
                errors[name] = f"{label} must be a number."
                continue
            if not low <= value <= high:
                errors[name] = f"{label} must be between {low:g} and {high:g}."
                continue
            changes[name] = value
        if errors:
            raise ValidationError(errors)
        return replace(self, **changes)


def steps_per_epoch(train_examples: int, batch_size: int) -> int:
    return math.ceil(train_examples / batch_size) if train_examples else 0


def total_steps(train_examples: int, params: HyperParameters) -> int:
    return steps_per_epoch(train_examples, params.batch_size) * params.epochs


def defaults_for(*, train_examples: int, device: str) -> HyperParameters:
    """Settings that work for a dataset of this size on this device, without a person choosing any."""
    gpu = device.startswith("cuda")
    batch_size = max(1, min(16 if gpu else 4, train_examples))
    # Small datasets need several passes to learn a style; big ones learn it in one.
    if train_examples <= 100:
        epochs = 4
    elif train_examples <= 1_000:
        epochs = 3
    elif train_examples <= 10_000:
        epochs = 2
    else:
        epochs = 1
    steps = steps_per_epoch(train_examples, batch_size) * epochs
    # Few steps need a bolder learning rate to move the adapter at all; many steps a gentler one.
    learning_rate = 1e-3 if steps <= 50 else 5e-4 if steps <= 500 else 2e-4
    return HyperParameters(
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=FINE_TUNE_MAX_TOKENS,
        checkpoint_every=min(max(10, steps // 10), 500),
        eval_samples=16 if gpu else 3,
        sample_tokens=128 if gpu else 48,
    )


#: Training examples from which a CPU classifier run takes batches of 32 (see ``classifier_defaults_for``).
CLASSIFIER_LARGE_SET = 2000
#: Training examples from which a classifier run takes 2 epochs, not 3: by then 2 epochs are 300+ optimizer steps
#: of batches of 32, and early stopping rarely lets a third run anyway (see ``classifier_defaults_for``).
CLASSIFIER_TWO_EPOCHS_SET = 5000


def classifier_defaults_for(*, train_examples: int, device: str) -> HyperParameters:
    """A classifier head on MiniLM: short texts, a few epochs (early stopping ends it sooner), bigger batches.

    64 tokens covers a support message or a review sentence (the bundled encoder reads 256 at most); a
    GPU affords 128. Small datasets take a bolder learning rate, as their runs have few steps. From
    ``CLASSIFIER_LARGE_SET`` examples a CPU takes batches of 32 too: ×1.18 tokens/s over 16 (fewer optimizer
    steps per token; tests/benchmarks/bench_classifier.py --train-speed), while a smaller set keeps 16 so
    that it still gets enough steps. From ``CLASSIFIER_TWO_EPOCHS_SET`` examples 2 epochs, so 10k short texts
    train in minutes on a CPU.
    """
    gpu = device.startswith("cuda")
    batch_size = max(1, min(32 if gpu or train_examples >= CLASSIFIER_LARGE_SET else 16, train_examples))
    epochs = 2 if train_examples >= CLASSIFIER_TWO_EPOCHS_SET else 3
    steps = steps_per_epoch(train_examples, batch_size) * epochs
    return HyperParameters(
        epochs=epochs,
        learning_rate=1e-4 if steps <= 300 else 5e-5,
        batch_size=batch_size,
        max_length=128 if gpu else 64,
        warmup_fraction=0.1,
        checkpoint_every=max(1, steps_per_epoch(train_examples, batch_size)),  # one checkpoint per epoch
        eval_samples=0,
    )


def recommender_defaults_for(*, train_examples: int, device: str) -> HyperParameters:
    """The recommender's ALS, in the shared settings record: ``epochs`` are ALS iterations, ``lora_rank`` its factors.

    15 iterations of 32 factors is implicit's usual start; a catalog of thousands of items affords 64.
    """
    factors = 64 if train_examples > 200_000 else 32
    return HyperParameters(epochs=15, learning_rate=0.05, batch_size=1, lora_rank=factors, checkpoint_every=1,
                           eval_samples=0)


def recommender_total_steps(params: HyperParameters) -> int:
    """Steps of a recommender run: embedding the catalog, three ALS fits of ``epochs`` iterations, the report."""
    return 1 + 3 * params.epochs + 1


def learning_rate_at(step: int, *, total: int, params: HyperParameters) -> float:
    """Linear warm-up, then cosine decay to zero: the rate for the optimizer step numbered ``step`` (0-based).

    A pure function of the step, so a resumed run needs no scheduler state.
    """
    warmup = math.ceil(total * params.warmup_fraction)
    if step < warmup:
        return params.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return params.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
