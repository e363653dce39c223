"""The pre-flight estimate and the loss chart's coordinates (no model, no database)."""

from __future__ import annotations

import pytest

from products.training.chart import HEIGHT, PAD, WIDTH, loss_chart
from products.training.estimate import device_hint, duration_words, preflight_estimate
from products.training.hyperparameters import HyperParameters

PARAMS = HyperParameters(epochs=2, learning_rate=1e-3, batch_size=4, max_length=512)


def test_estimate_counts_examples_tokens_and_steps_and_uses_a_measured_speed():
    estimate = preflight_estimate(train_examples=36, validation_examples=4, mean_text_tokens=60.0, params=PARAMS,
                                  device="cpu", measured_tokens_per_second=500.0)
    assert (estimate.tokens_per_example, estimate.tokens_per_epoch, estimate.total_tokens) == (100, 3600, 7200)
    assert estimate.steps == 18 and estimate.measured
    assert estimate.seconds == pytest.approx(7200 / 500 + 40)
    assert estimate.duration_words == "under a minute" and estimate.device_label == "the CPU"


def test_estimate_without_a_measured_run_uses_the_typical_speed_of_the_device():
    estimate = preflight_estimate(train_examples=10_000, validation_examples=0, mean_text_tokens=None,
                                  params=PARAMS, device="cuda")
    assert not estimate.measured and estimate.tokens_per_second == 30_000.0
    assert estimate.total_tokens == 140 * 10_000 * 2


@pytest.mark.parametrize(("seconds", "words"), [
    (20, "under a minute"), (70, "about a minute"), (7 * 60, "about 7 minutes"), (150 * 60, "about 2.5 hours"),
])
def test_durations_are_said_in_words(seconds, words):
    assert duration_words(seconds) == words


def test_the_device_hint_follows_studio_device(settings):
    settings.INFERENCE_DEVICE = "cuda:1"
    assert device_hint() == "cuda"
    settings.INFERENCE_DEVICE = "cpu"
    assert device_hint() == "cpu"


def test_the_chart_puts_the_highest_loss_at_the_top_and_the_last_step_at_the_right():
    points = [{"split": "train", "step": 0, "loss": 3.0}, {"split": "train", "step": 10, "loss": 1.0},
              {"split": "validation", "step": 10, "loss": 2.0}]
    chart = loss_chart(points, total_steps=10)
    assert chart.train == f"{PAD:.1f},{PAD:.1f} {WIDTH - PAD:.1f},{HEIGHT - PAD:.1f}"
    assert chart.validation == f"{WIDTH - PAD:.1f},{HEIGHT / 2:.1f}"
    assert (chart.y_max, chart.y_min, chart.x_max, chart.empty) == ("3.00", "1.00", 10, False)
    assert loss_chart([], total_steps=5).empty


def test_a_classifier_on_10k_texts_is_estimated_for_the_two_epochs_it_defaults_to_at_the_classifiers_speed():
    from products.training.estimate import typical_tokens_per_second
    from products.training.hyperparameters import classifier_defaults_for

    params = classifier_defaults_for(train_examples=10_000, device="cpu")
    estimate = preflight_estimate(train_examples=10_000, validation_examples=1_000, mean_text_tokens=30.0,
                                  params=params, device="cpu", method="classifier")
    assert params.epochs == 2 and estimate.total_tokens == 32 * 10_000 * 2
    assert estimate.tokens_per_second == typical_tokens_per_second("cpu", method="classifier")
    assert estimate.seconds < 10 * 60  # the figure for 10k short texts on a CPU; here it is what is shown
    # Smaller sets keep 3 epochs (more steps where there are few).
    assert classifier_defaults_for(train_examples=4_999, device="cpu").epochs == 3


def test_the_classifiers_typical_cpu_speed_follows_whether_the_cpu_has_bf16(tmp_path, monkeypatch):
    from products.training import estimate

    with_bf16, without = tmp_path / "with", tmp_path / "without"
    with_bf16.write_text("flags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile\n")
    without.write_text("flags\t\t: fpu sse2 avx2 avx512f\n")
    assert estimate.cpu_has_bf16(with_bf16) and not estimate.cpu_has_bf16(without)
    assert not estimate.cpu_has_bf16(tmp_path / "missing")
    monkeypatch.setattr(estimate, "cpu_has_bf16", lambda: False)
    fp32 = estimate.typical_tokens_per_second("cpu", method="classifier")
    monkeypatch.setattr(estimate, "cpu_has_bf16", lambda: True)
    assert estimate.typical_tokens_per_second("cpu", method="classifier") > fp32
    assert estimate.typical_tokens_per_second("cpu", method="lora") == estimate.TYPICAL_TOKENS_PER_SECOND["cpu"]
