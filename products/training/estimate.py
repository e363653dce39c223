"""The pre-flight estimate shown before a run starts: examples, tokens and expected time on this device.

No torch here (the web tier shows it): token counts come from the dataset version's validation report,
speed from the last run measured on this device, or a typical figure when there is none yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from products.training.hyperparameters import HyperParameters, steps_per_epoch

#: Training tokens per second of SmolLM2-135M with LoRA before this machine has measured its own: the CPU
#: figure is tests/benchmarks/bench_training.py on two busy cores (150–190), the GPU one a cautious guess.
TYPICAL_TOKENS_PER_SECOND = {"cpu": 200.0, "cuda": 30_000.0}
#: The same for the MiniLM classifier (forward and backward, batches of 16 short texts): 240–290 on the dev
#: machine's two busy cores with one torch thread (tests/benchmarks/bench_classifier.py --threads 1), about 65
#: with torch's default two threads there; the GPU figure is a cautious guess. Texts are short, so a run is
#: still minutes for a few hundred rows; the first run measures this machine's own figure.
CLASSIFIER_TOKENS_PER_SECOND = {"cpu": 250.0, "cuda": 50_000.0}
#: Tokens the chat template and the product's prompt add to each example, beyond the dataset's own text.
PROMPT_OVERHEAD_TOKENS = 40
#: Seconds for loading the model, writing the artifact and the evaluation report, beyond the steps.
FIXED_SECONDS = {"cpu": 40.0, "cuda": 20.0}


def device_hint() -> str:
    """The device the training worker will use: STUDIO_DEVICE, or for ``auto`` whether a GPU is visible.

    Looks for the NVIDIA driver instead of importing torch, which the web tier never loads.
    """
    configured = settings.INFERENCE_DEVICE
    if configured != "auto":
        return "cuda" if configured.startswith("cuda") else "cpu"
    return "cuda" if Path("/proc/driver/nvidia/version").exists() else "cpu"


@dataclass(frozen=True)
class PreflightEstimate:
    train_examples: int
    validation_examples: int
    tokens_per_example: int
    tokens_per_epoch: int
    total_tokens: int
    steps: int
    device: str
    tokens_per_second: float
    measured: bool  # speed from a real run on this device, not the typical figure
    seconds: float

    @property
    def device_label(self) -> str:
        return "the GPU" if self.device == "cuda" else "the CPU"

    @property
    def duration_words(self) -> str:
        return duration_words(self.seconds)


def duration_words(seconds: float) -> str:
    """'under a minute', 'about 7 minutes', 'about 2.5 hours' (training_run.js words it the same way)."""
    minutes = seconds / 60
    if minutes < 1:
        return "under a minute"
    if minutes < 1.5:
        return "about a minute"
    if minutes < 90:
        return f"about {round(minutes)} minutes"
    return f"about {minutes / 60:.1f} hours"


def preflight_estimate(
    *, train_examples: int, validation_examples: int, mean_text_tokens: float | None, params: HyperParameters,
    device: str, measured_tokens_per_second: float | None = None, method: str = "lora",
) -> PreflightEstimate:
    """How much a run will read and how long it should take, before anything loads.

    A classifier reads only the text (and two special tokens), and at most all its epochs (early stopping
    may end it sooner).
    """
    classifier = method == "classifier"
    text_tokens = mean_text_tokens if mean_text_tokens else (30.0 if classifier else 100.0)
    overhead = 2 if classifier else PROMPT_OVERHEAD_TOKENS
    per_example = min(math.ceil(text_tokens + overhead), params.max_length)
    per_epoch = per_example * train_examples
    total = per_epoch * params.epochs
    typical = CLASSIFIER_TOKENS_PER_SECOND if classifier else TYPICAL_TOKENS_PER_SECOND
    speed = measured_tokens_per_second or typical.get(device, typical["cpu"])
    seconds = total / speed + FIXED_SECONDS.get(device, FIXED_SECONDS["cpu"])
    return PreflightEstimate(
        train_examples=train_examples, validation_examples=validation_examples, tokens_per_example=per_example,
        tokens_per_epoch=per_epoch, total_tokens=total,
        steps=steps_per_epoch(train_examples, params.batch_size) * params.epochs, device=device,
        tokens_per_second=speed, measured=measured_tokens_per_second is not None, seconds=seconds,
    )
