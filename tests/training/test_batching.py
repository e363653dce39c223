"""Length-grouped batches: every example once per epoch, little padding, the same plan on every resume."""

from __future__ import annotations

import random

from inference.training.batching import epoch_batches, padding_fraction, training_plan

_rng = random.Random(7)
LENGTHS = [_rng.randint(20, 400) for _ in range(203)]


def test_an_epoch_takes_every_example_exactly_once_in_batches_of_the_chosen_size():
    batches = epoch_batches(LENGTHS, 8, seed=1, epoch=0)
    assert sorted(i for batch in batches for i in batch) == list(range(len(LENGTHS)))
    assert len(batches) == 26  # ceil(203 / 8)
    assert sorted(len(batch) for batch in batches)[1:] == [8] * 25  # one short batch at most


def test_the_plan_is_the_same_for_the_same_seed_and_changes_between_epochs():
    plan = training_plan(LENGTHS, 8, epochs=3, seed=42)
    assert plan == training_plan(LENGTHS, 8, epochs=3, seed=42)
    assert len(plan) == 3 * 26
    assert plan[:26] != plan[26:52]
    assert plan != training_plan(LENGTHS, 8, epochs=3, seed=43)


def test_grouping_by_length_wastes_far_less_on_padding_than_random_batches():
    order = list(range(len(LENGTHS)))
    random.Random(3).shuffle(order)
    random_batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    grouped = epoch_batches(LENGTHS, 8, seed=3, epoch=0)
    assert padding_fraction(grouped, LENGTHS) < 0.1 < padding_fraction(random_batches, LENGTHS)


def test_equal_lengths_need_no_padding():
    assert padding_fraction(epoch_batches([50] * 10, 4, seed=0, epoch=0), [50] * 10) == 0.0
