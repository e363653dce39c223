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
#: The same for the MiniLM classifier as it trains by default (top 3 layers, batches of 32 texts of ~64 tokens,
#: 2 epochs for 10k texts, the per-epoch dev scoring included): tests/benchmarks/bench_classifier.py --threads 1 on
#: the dev machine's two shared cores measured ~5,500 with bf16 autocast and ~3,000 in fp32 (bf16 where the CPU
#: computes it natively, ``cpu_has_bf16``); the GPU figure is a cautious guess. The first run measures this
#: machine's own figure.
CLASSIFIER_TOKENS_PER_SECOND = {"cpu": 2500.0, "cpu-bf16": 5000.0, "cuda": 50_000.0}
#: Tokens the chat template and the product's prompt add to each example, beyond the dataset's own text.
PROMPT_OVERHEAD_TOKENS = 40
#: Seconds for loading the model, writing the artifact and the evaluation report, beyond the steps.
FIXED_SECONDS = {"cpu": 40.0, "cuda": 20.0}


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), so the classifier trains in bf16 autocast.

    Read from the CPU flags, as the web tier never loads torch (the worker asks oneDNN the same question).
    """
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def typical_tokens_per_second(device: str, *, method: str) -> float:
    """Training tokens/s of ``method`` on ``device`` before a run has measured this machine's own."""
    if method != "classifier":
        return TYPICAL_TOKENS_PER_SECOND.get(device, TYPICAL_TOKENS_PER_SECOND["cpu"])
    if device == "cuda":
        return CLASSIFIER_TOKENS_PER_SECOND["cuda"]
    return CLASSIFIER_TOKENS_PER_SECOND["cpu-bf16" if cpu_has_bf16() else "cpu"]


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
    speed = measured_tokens_per_second or typical_tokens_per_second(device, method=method)
    seconds = total / speed + FIXED_SECONDS.get(device, FIXED_SECONDS["cpu"])
    return PreflightEstimate(
        train_examples=train_examples, validation_examples=validation_examples, tokens_per_example=per_example,
        tokens_per_epoch=per_epoch, total_tokens=total,
        steps=steps_per_epoch(train_examples, params.batch_size) * params.epochs, device=device,
        tokens_per_second=speed, measured=measured_tokens_per_second is not None, seconds=seconds,
    )
