"""A labelled dataset version → the classifier's rows: train, dev (early stopping), held out (report, calibration).

The dataset's own split (stratified by label, products/datasets/split.py) gives the held-out rows. The
dev rows are a stratified slice of the training split, so early stopping never sees a held-out row
and the temperature (fitted on held-out rows) is fitted on rows nothing else chose by.
"""

from __future__ import annotations

from dataclasses import dataclass

from products.datasets.labels import is_number_label, mixed_labels_message, one_label_message
from products.datasets.selectors import dataset_version_examples
from products.datasets.split import stratified_validation_flags
from products.models import DatasetVersion

#: Share of the training split kept aside for early stopping.
DEV_FRACTION = 0.15
#: Below this many training rows no dev rows are kept: every row trains, and the last epoch is the model.
MIN_ROWS_FOR_DEV = 20


class NotClassifiable(Exception):
    """The rows cannot train a classifier (one label only, mixed label kinds); the message says what to fix."""


@dataclass(frozen=True)
class Rows:
    texts: list[str]
    y: list[int]


@dataclass(frozen=True)
class LabelledData:
    labels: list[str]  # sorted; a label's index is its head row
    train: Rows
    dev: Rows
    held_out: Rows


def _read(version: DatasetVersion, split: str) -> list[tuple[str, str]]:
    return [(example["text"], example["label"]) for example in
            dataset_version_examples(version, kind=version.kind, split=split)]


def labelled_data(version: DatasetVersion, *, seed: int) -> LabelledData:
    """The version's rows as label indices; raises NotClassifiable naming the fix."""
    train_rows, held_rows = _read(version, "train"), _read(version, "validation")
    labels = sorted({label for _, label in train_rows + held_rows})
    if len(labels) == 1:
        raise NotClassifiable(one_label_message(labels[0]))
    numbers = [label for label in labels if is_number_label(label)]
    if numbers and len(numbers) < len(labels):
        raise NotClassifiable(mixed_labels_message(numbers, [label for label in labels if label not in numbers]))
    index = {label: i for i, label in enumerate(labels)}
    dev_size = round(len(train_rows) * DEV_FRACTION) if len(train_rows) >= MIN_ROWS_FOR_DEV else 0
    flags = stratified_validation_flags([label for _, label in train_rows], dev_size, seed)
    train = [row for row, dev in zip(train_rows, flags, strict=True) if not dev]
    dev = [row for row, is_dev in zip(train_rows, flags, strict=True) if is_dev]

    def rows(pairs: list[tuple[str, str]]) -> Rows:
        return Rows([text for text, _ in pairs], [index[label] for _, label in pairs])

    return LabelledData(labels, rows(train), rows(dev), rows(held_rows))
