"""Length-grouped batches: examples of similar length train together, so little compute goes to padding.

The whole plan (every step's example indices, epoch after epoch) is a pure function of the lengths,
the batch size and the seed, so a resumed run takes exactly the batches it would have taken.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

#: Examples are sorted by length within windows of this many batches; the windows keep the order random.
GROUP_BATCHES = 32


def epoch_batches(lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int) -> list[list[int]]:
    """One epoch: every example index exactly once, in batches of similar lengths, in a seeded random order."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * GROUP_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        group = sorted(order[start : start + window], key=lambda index: lengths[index], reverse=True)
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    # Long and short batches alternate at random, so the loss curve does not follow the lengths.
    rng.shuffle(batches)
    return batches


def training_plan(lengths: Sequence[int], batch_size: int, *, epochs: int, seed: int) -> list[list[int]]:
    """Every step of the run, in order: the example indices of each batch."""
    plan: list[list[int]] = []
    for epoch in range(epochs):
        plan.extend(epoch_batches(lengths, batch_size, seed=seed, epoch=epoch))
    return plan


def padding_fraction(plan: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of the padded batch tensors that is padding (0 means none)."""
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in plan)
    real = sum(lengths[i] for batch in plan for i in batch)
    return 1 - real / padded if padded else 0.0
