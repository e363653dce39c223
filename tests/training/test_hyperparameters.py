"""Fine-tuning defaults from the dataset size, a person's overrides, and the learning-rate schedule."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from products.datasets.tokens import LONG_TEXT_TOKENS
from products.training.hyperparameters import (
    HyperParameters,
    defaults_for,
    learning_rate_at,
    too_few_examples_message,
    total_steps,
)


def test_small_datasets_get_more_epochs_and_a_bolder_rate_than_big_ones():
    small = defaults_for(train_examples=36, device="cpu")
    big = defaults_for(train_examples=50_000, device="cpu")
    assert (small.epochs, small.batch_size, small.learning_rate) == (4, 4, 1e-3)
    assert (big.epochs, big.batch_size, big.learning_rate) == (1, 4, 2e-4)
    assert total_steps(36, small) == 36 and small.checkpoint_every == 10


def test_a_gpu_gets_bigger_batches_and_more_report_samples_and_both_read_the_one_token_limit():
    gpu = defaults_for(train_examples=5_000, device="cuda")
    cpu = defaults_for(train_examples=5_000, device="cpu")
    assert (gpu.batch_size, gpu.max_length, gpu.eval_samples) == (16, 1024, 16)
    assert (cpu.batch_size, cpu.max_length, cpu.eval_samples) == (4, 1024, 3)
    assert gpu.max_length == LONG_TEXT_TOKENS  # the dataset report warns at the limit the fine-tune cuts at


def test_overrides_replace_defaults_and_blank_values_keep_them():
    params = defaults_for(train_examples=100, device="cpu").with_overrides(
        {"epochs": "2", "learning_rate": "0.0003", "batch_size": "", "unknown": 5}
    )
    assert (params.epochs, params.learning_rate, params.batch_size) == (2, 3e-4, 4)


def test_out_of_range_and_non_numeric_overrides_are_named_with_their_limits():
    with pytest.raises(ValidationError) as caught:
        defaults_for(train_examples=100, device="cpu").with_overrides({"epochs": 0, "batch_size": "many"})
    assert caught.value.message_dict == {
        "epochs": ["Epochs must be between 1 and 50."],
        "batch_size": ["Batch size must be a number."],
    }


def test_settings_round_trip_through_the_stored_dict():
    params = defaults_for(train_examples=300, device="cpu")
    assert HyperParameters.from_dict({**params.to_dict(), "retired_setting": 1}) == params


def test_learning_rate_warms_up_then_decays_to_zero():
    params = HyperParameters(epochs=1, learning_rate=1e-3, batch_size=4, warmup_fraction=0.1)
    rates = [learning_rate_at(step, total=100, params=params) for step in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert rates[10] == pytest.approx(1e-3) and all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))
    assert rates[-1] < 1e-6


def test_too_few_examples_message_says_the_minimum_and_the_fix():
    assert too_few_examples_message(7) == (
        "This dataset version has 7 training examples; fine-tuning needs at least 10. Add rows to the dataset "
        "(or hold fewer rows out for validation) and try again."
    )
