"""Token counts for the validation report: the SmolLM2 tokenizer when installed, else an estimate.

Only the ``tokenizers`` package is loaded (a few MB, no model weights): the web tier never loads a model.
Exact counting costs ~40 µs a row, so the first rows calibrate a characters-per-token ratio and later
rows are estimated from their length, except rows near the limit, which are counted exactly.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings

from products.training.hyperparameters import FINE_TUNE_MAX_TOKENS

logger = logging.getLogger(__name__)

TOKENIZER_MODEL = "smollm2-135m-instruct"
#: The longest example a fine-tune uses; longer rows are cut. Rows above it get a warning.
LONG_TEXT_TOKENS = FINE_TUNE_MAX_TOKENS
CHARS_PER_TOKEN_GUESS = 4.0
CALIBRATION_ROWS = 500
MAX_EXACT_LONG_ROWS = 200
#: Upper bounds of the histogram buckets; the last bucket is open-ended.
BUCKETS = (32, 64, 128, 256, 512, 1024, 2048)


@functools.cache
def _tokenizer(models_dir: str) -> Callable[[str], int] | None:
    try:
        from tokenizers import Tokenizer

        from inference.registry import model_path

        tokenizer = Tokenizer.from_file(str(model_path(models_dir, TOKENIZER_MODEL) / "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 - any failure means "estimate instead", never a broken upload
        logger.info("Token counts are estimated: the %s tokenizer is not available (%s).", TOKENIZER_MODEL, exc)
        return None
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def bucket_labels() -> list[str]:
    labels, low = [], 1
    for high in BUCKETS:
        labels.append(f"{low}–{high}")
        low = high + 1
    return [*labels, f"over {BUCKETS[-1]}"]


class TokenCounter:
    """Counts tokens row by row and keeps a histogram, the maximum and the mean."""

    def __init__(self, count: Callable[[str], int] | None = None, *, use_model_tokenizer: bool = True) -> None:
        if count is None and use_model_tokenizer:
            count = _tokenizer(str(settings.MODELS_DIR))
        self._count = count
        self.method = "tokenizer" if count else "estimate"
        self.histogram = [0] * (len(BUCKETS) + 1)
        self.rows = self.total = self.maximum = 0
        self._calibration_chars = self._calibration_tokens = 0
        self._exact_long = 0

    @property
    def chars_per_token(self) -> float:
        if self._calibration_tokens:
            return max(self._calibration_chars / self._calibration_tokens, 1.0)
        return CHARS_PER_TOKEN_GUESS

    def add(self, text: str) -> int:
        """Count one row's text, record it, and return its token count."""
        chars = len(text)
        if self._count is None:
            tokens = round(chars / CHARS_PER_TOKEN_GUESS + 0.49)
        elif self.rows < CALIBRATION_ROWS:
            tokens = self._count(text)
            self._calibration_chars += chars
            self._calibration_tokens += tokens
        else:
            tokens = round(chars / self.chars_per_token + 0.49)
            if tokens > LONG_TEXT_TOKENS * 0.8 and self._exact_long < MAX_EXACT_LONG_ROWS:
                self._exact_long += 1
                tokens = self._count(text)
        self.rows += 1
        self.total += tokens
        self.maximum = max(self.maximum, tokens)
        self.histogram[next((i for i, high in enumerate(BUCKETS) if tokens <= high), len(BUCKETS))] += 1
        return tokens

    def to_dict(self) -> dict:
        peak = max(self.histogram) or 1
        return {
            "method": self.method,
            "limit": LONG_TEXT_TOKENS,
            "max": self.maximum,
            "mean": round(self.total / self.rows, 1) if self.rows else 0,
            "histogram": [
                {"label": label, "count": count, "percent": round(100 * count / peak)}
                for label, count in zip(bucket_labels(), self.histogram, strict=True)
            ],
        }
