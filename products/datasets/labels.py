"""What a labelled (classification) dataset version holds: rows per label, and what would spoil a classifier.

The version page shows the counts and the warnings; starting a classifier run refuses the problems
(one label only, labels that mix numbers with words) with words that name the fix. No torch: only the
``tokenizers`` package, to say how many texts are longer than the encoder reads.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from products.datasets.requirements import shape_get
from products.models import DatasetVersion

logger = logging.getLogger(__name__)

#: Fewer examples of a label than this teach a classifier little and measure it less.
FEW_EXAMPLES = 5
#: The biggest label this many times the smallest: the model learns to favour the big one.
HEAVY_IMBALANCE = 10
#: The encoder reads at most this many tokens (all-MiniLM-L6-v2's maximum); the classifier trains on fewer.
ENCODER_MAX_TOKENS = 256
ENCODER_MODEL = "all-minilm-l6-v2"
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


@dataclass(frozen=True)
class LabelCount:
    label: str
    total: int
    train: int
    validation: int


@dataclass(frozen=True)
class LabelSummary:
    """Label counts of a labelled version (biggest first), warnings a person may act on, and blocking problems."""

    labels: list[LabelCount]
    rows: int
    too_long: int  # texts longer than the encoder reads (cut at ENCODER_MAX_TOKENS)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [count.label for count in self.labels]


def is_number_label(label: str) -> bool:
    """"3", "-1", "4.5": a code rather than a name."""
    return bool(_NUMBER.match(label))


def one_label_message(label: str) -> str:
    return (
        f"Every row of this dataset version has the same label (“{label}”), so there is nothing to tell apart. "
        "A classifier needs examples of at least two labels: add rows with other labels and upload a new version."
    )


def mixed_labels_message(numbers: list[str], words: list[str]) -> str:
    return (
        f"The label column mixes numbers ({', '.join(numbers[:3])}) with words ({', '.join(words[:3])}). "
        "Use one kind of label — replace the number codes with the names they stand for — and upload a new version."
    )


@functools.cache
def _token_counter(models_dir: str) -> Callable[[str], int] | None:
    try:
        from tokenizers import Tokenizer

        from inference.registry import model_path

        tokenizer = Tokenizer.from_file(str(model_path(models_dir, ENCODER_MODEL) / "tokenizer.json"))
        tokenizer.no_truncation()
    except Exception as exc:  # noqa: BLE001 - any failure means "estimate instead", never a broken page
        logger.info("Label summary estimates text lengths: the %s tokenizer is unavailable (%s).", ENCODER_MODEL, exc)
        return None
    return lambda text: len(tokenizer.encode(text).ids)


def _tokens(text: str) -> int:
    count = _token_counter(str(settings.MODELS_DIR))
    return count(text) if count else len(text) // 4


def dataset_version_label_summary(version: DatasetVersion) -> LabelSummary | None:
    """The label summary of a version whose shape has a label (None for others); cached: versions are immutable."""
    key = f"label-summary:v1:{version.pk}:{version.sha256}"
    summary = cache.get(key)
    if summary is None:
        summary = _summarise(version)
        cache.set(key, summary, 3600)
    return summary or None


def _summarise(version: DatasetVersion) -> LabelSummary | bool:
    from products.datasets.selectors import dataset_version_split_flags, stored_rows

    shape = shape_get(version.kind, version.shape)
    label_columns = version.column_mapping.get(shape.stratify_by or "", [])
    text_columns = version.column_mapping.get("text", [])
    if not label_columns:
        return False
    train, held = Counter(), Counter()
    too_long = rows = 0
    with closing(stored_rows(version)) as stream:
        for (_, row), held_out in zip(stream, dataset_version_split_flags(version), strict=True):
            label = row.get(label_columns[0], "").strip()
            text = row.get(text_columns[0], "").strip() if text_columns else ""
            if not label or not text:
                continue  # skipped by training too (a required value is missing)
            rows += 1
            (held if held_out else train)[label] += 1
            # Only long-looking texts are counted exactly: short ones cannot pass 256 tokens.
            if len(text) > ENCODER_MAX_TOKENS and _tokens(text) > ENCODER_MAX_TOKENS:
                too_long += 1
    totals = train + held
    labels = [LabelCount(label, n, train[label], held[label])
              for label, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]
    warnings, problems = [], []
    if len(labels) == 1:
        problems.append(one_label_message(labels[0].label))
    numbers = [c.label for c in labels if is_number_label(c.label)]
    words = [c.label for c in labels if not is_number_label(c.label)]
    if numbers and words:
        problems.append(mixed_labels_message(numbers, words))
    few = [c for c in labels if c.total < FEW_EXAMPLES]
    if few and len(labels) > 1:
        names = ", ".join(f"“{c.label}” ({c.total})" for c in few[:5])
        one = len(few) == 1
        it = "it" if one else "them"
        warnings.append(
            f"{len(few)} label{'' if one else 's'} {'has' if one else 'have'} fewer than {FEW_EXAMPLES} examples: "
            f"{names}. The classifier will rarely choose {it} and the report can say little about {it}; "
            "add examples, or merge the label into another."
        )
    if len(labels) > 1 and labels[0].total >= HEAVY_IMBALANCE * labels[-1].total:
        ratio = labels[0].total / labels[-1].total
        warnings.append(
            f"The labels are heavily imbalanced: “{labels[0].label}” has {ratio:.0f} times as many examples as "
            f"“{labels[-1].label}”. Training weighs the rare labels up, but more examples of them help most."
        )
    if too_long:
        warnings.append(
            f"{too_long} text{'' if too_long == 1 else 's'} {'is' if too_long == 1 else 'are'} longer than the "
            f"{ENCODER_MAX_TOKENS} tokens the encoder reads; {'it is' if too_long == 1 else 'they are'} cut there "
            "(the classifier trains on the first 64–128 tokens of each text)."
        )
    return LabelSummary(labels=labels, rows=rows, too_long=too_long, warnings=warnings, problems=problems)
