"""The classifier training method: what it refuses before training, its report's arithmetic, and a SIGKILLed run.

The full journey (train on real MiniLM → report → version → classify over every transport) is
tests/products/test_classification_kind.py.
"""

from __future__ import annotations

import functools
import os
import signal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from inference.models import ModelArtifact, TrainingRun
from inference.training.checkpoints import latest_checkpoint
from inference.training.classifier import report
from inference.training.classifier.data import NotClassifiable, labelled_data
from inference.training.pipeline import checkpoint_root
from inference.training.worker import TrainingWorker
from products.datasets.labels import mixed_labels_message, one_label_message
from products.training.services import training_run_create
from tests.processes import wait_for
from tests.training.classifier_fixtures import TINY_CLASSIFIER, sample_rows

pytestmark = pytest.mark.django_db(transaction=True)

GUARD_S = 300  # how long a wait may last before the test gives up on a hung worker (not a measurement)
_wait_for = functools.partial(wait_for, timeout=GUARD_S)


def test_a_dataset_with_one_label_is_refused_before_training_with_words_that_name_the_fix(
    router, make_labelled_version
):
    _, owner, product = router
    version = make_labelled_version(sample_rows(labels=("billing",), per_label=30))
    with pytest.raises(ValidationError) as refused:
        training_run_create(product=product, dataset_version=version, user=owner, overrides=TINY_CLASSIFIER)
    assert refused.value.message_dict == {"dataset_version": [
        "Every row of this dataset version has the same label (“billing”), so there is nothing to tell apart. "
        "A classifier needs examples of at least two labels: add rows with other labels and upload a new version."
    ]}
    assert not TrainingRun.objects.exists()
    # The worker refuses the same rows with the same words (a run queued through another path).
    with pytest.raises(NotClassifiable) as in_worker:
        labelled_data(version, seed=42)
    assert str(in_worker.value) == one_label_message("billing")


def test_labels_that_mix_number_codes_with_words_are_refused(router, make_labelled_version):
    _, owner, product = router
    rows = sample_rows(per_label=12)
    rows = [(text, "2" if label == "account" else label) for text, label in rows]
    version = make_labelled_version(rows)
    with pytest.raises(ValidationError) as refused:
        training_run_create(product=product, dataset_version=version, user=owner, overrides=TINY_CLASSIFIER)
    assert refused.value.message_dict["dataset_version"] == [mixed_labels_message(["2"], ["billing", "shipping"])]
    assert refused.value.message_dict["dataset_version"][0].startswith(
        "The label column mixes numbers (2) with words (billing, shipping).")


def test_a_classifier_run_is_queued_as_a_short_classifier_job_on_the_encoder_with_classifier_defaults(
    router, make_labelled_version
):
    _, owner, product = router
    run = training_run_create(product=product, dataset_version=make_labelled_version(), user=owner)
    assert (run.method, run.queue, run.base_model) == ("classifier", "short", "all-minilm-l6-v2")
    assert run.hyperparameters["epochs"] <= 3 and run.hyperparameters["max_length"] in (64, 128)
    assert run.hyperparameters["batch_size"] == 16  # CPU default, capped by nothing: 45 training rows


def test_dev_rows_for_early_stopping_come_from_the_training_split_never_from_the_held_out_rows(
    router, make_labelled_version
):
    data = labelled_data(make_labelled_version(), seed=42)
    held = set(data.held_out.texts)
    assert len(held) == 15 and not held & set(data.dev.texts) and not held & set(data.train.texts)
    assert not set(data.dev.texts) & set(data.train.texts)
    assert len(data.train.texts) + len(data.dev.texts) == 45
    # Every label is in each part (the splits are stratified by label).
    for rows in (data.train, data.dev, data.held_out):
        assert sorted(set(rows.y)) == [0, 1, 2]


def test_temperature_scaling_fixes_overconfident_probabilities_and_keeps_the_labels():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    logits = rng.normal(size=(400, 3))
    logits[np.arange(400), y] += 1.0  # right about 60 % of the time …
    logits *= 8  # … but sure of every answer
    temperature = report.fit_temperature(logits, y)
    before = report.calibration(y, report.softmax(logits))
    after = report.calibration(y, report.softmax(logits, temperature))
    assert temperature > 2 and after["ece"] < before["ece"] / 2
    assert (report.softmax(logits, temperature).argmax(1) == logits.argmax(1)).all()
    assert sum(b["count"] for b in after["bins"]) == 400


def test_metrics_are_scikit_learns_and_the_most_wrong_examples_come_surest_first():
    from sklearn.metrics import f1_score, roc_auc_score

    y = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([[.9, .05, .05], [.2, .7, .1], [.1, .8, .1], [.6, .3, .1], [.1, .1, .8], [.2, .2, .6]])
    metrics = report.classification_metrics(y, probabilities, ["a", "b", "c"])
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["macro_f1"] == pytest.approx(f1_score(y, probabilities.argmax(1), average="macro"))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, probabilities, multi_class="ovr"))
    assert metrics["confusion"] == [[1, 1, 0], [1, 1, 0], [0, 0, 2]]
    wrong = report.most_wrong(["t0", "t1", "t2", "t3", "t4", "t5"], y, probabilities, ["a", "b", "c"])
    assert [(w["text"], w["predicted"], w["confidence"]) for w in wrong] == [("t1", "b", 0.7), ("t3", "a", 0.6)]
    shares = {row["threshold"]: row for row in report.thresholds(y, probabilities)}
    assert shares[0.7]["unsure_share"] == pytest.approx(2 / 6) and shares[0.7]["accuracy_when_sure"] == 0.75
    assert shares[0.8]["unsure_share"] == pytest.approx(3 / 6) and shares[0.8]["accuracy_when_sure"] == 1.0


@pytest.mark.model
def test_a_classifier_worker_killed_after_an_epoch_resumes_from_that_epochs_checkpoint(
    router, make_labelled_version, worker_process, settings
):
    _, owner, product = router
    run = training_run_create(product=product, dataset_version=make_labelled_version(), user=owner,
                              overrides={**TINY_CLASSIFIER, "epochs": 3, "batch_size": 4})
    first = worker_process()
    per_epoch = 10  # ceil(38 training rows / 4)
    _wait_for(lambda: first.poll() is not None or TrainingRun.objects.get(pk=run.pk).checkpoint_step >= per_epoch,
              "the first epoch's checkpoint")
    assert first.poll() is None, first.stdout.read()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    orphan = TrainingRun.objects.get(pk=run.pk)
    on_disk = latest_checkpoint(checkpoint_root(run.pk))
    assert (orphan.status, orphan.attempts) == ("running", 1) and orphan.total_steps == 30
    assert on_disk is not None and on_disk.step in (10, 20)

    settings.TRAINING_LEASE_SECONDS = 3
    _wait_for(TrainingWorker(poll_seconds=1).run_once, "the expired lease to be swept and the run claimed again")

    run.refresh_from_db()
    assert (run.status, run.attempts, run.resumed_from_step) == ("succeeded", 2, on_disk.step), run.error
    messages = list(run.log_entries.values_list("message", flat=True))
    epoch = on_disk.step // per_epoch
    assert f"Resumed from the checkpoint at step {on_disk.step} of 30 (epoch {epoch}) on the CPU." in messages
    # The epochs before the checkpoint are not trained again: each epoch's line appears once.
    assert sum(m.startswith(f"Epoch {epoch} of 3:") for m in messages) == 1
    history = run.evaluation.metrics["epochs"]
    assert [entry["epoch"] for entry in history] == list(range(1, len(history) + 1))
    assert ModelArtifact.objects.filter(run=run, kind="classifier").count() == 1
    assert not checkpoint_root(run.pk).exists()


def test_classifier_defaults_read_short_texts_for_three_epochs_two_on_large_sets_with_a_checkpoint_each_epoch():
    from products.training.hyperparameters import classifier_defaults_for

    cpu = classifier_defaults_for(train_examples=270, device="cpu")
    gpu = classifier_defaults_for(train_examples=270, device="cuda")
    assert (cpu.epochs, cpu.max_length, cpu.batch_size, cpu.checkpoint_every) == (3, 64, 16, 17)
    assert (gpu.max_length, gpu.batch_size) == (128, 32)
    assert classifier_defaults_for(train_examples=20_000, device="cpu").learning_rate < cpu.learning_rate
    # From 2,000 examples a CPU takes batches of 32 (more tokens per second; enough steps left per epoch).
    assert classifier_defaults_for(train_examples=1_999, device="cpu").batch_size == 16
    assert classifier_defaults_for(train_examples=2_000, device="cpu").batch_size == 32
    # From 5,000 examples 2 epochs (10k short texts in minutes on a CPU), at the same learning rate as 3 had.
    large = classifier_defaults_for(train_examples=10_000, device="cpu")
    assert (large.epochs, large.learning_rate, large.checkpoint_every) == (2, 5e-5, 313)
    assert classifier_defaults_for(train_examples=4_999, device="cpu").epochs == 3


def test_the_train_page_offers_train_classifier_with_an_estimate_at_the_classifiers_speed(
    client, router, make_labelled_version
):
    from django.urls import reverse

    from products.training.estimate import typical_tokens_per_second

    team, owner, product = router
    make_labelled_version()
    client.force_login(owner)
    page = client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert "Train the classifier" in page and ">Train classifier</button>" in page
    assert "it reads English" in page
    assert f"Speed: {typical_tokens_per_second('cpu', method='classifier'):,.0f} tokens a second" in page
    assert "with early stopping" in page and "texts cut at 64 tokens" in page


def test_texts_longer_than_the_encoder_reads_are_counted_and_said_to_be_cut(router, make_labelled_version):
    from products.datasets.labels import dataset_version_label_summary

    long_text = " ".join(["Where is my parcel and why has the tracking not moved for days"] * 30)
    rows = sample_rows(per_label=12) + [(long_text, "shipping"), (long_text + " again", "shipping")]
    summary = dataset_version_label_summary(make_labelled_version(rows))
    assert summary.too_long == 2
    assert ("2 texts are longer than the 256 tokens the encoder reads; they are cut there (the classifier trains on "
            "the first 64–128 tokens of each text).") in summary.warnings
    assert summary.problems == []


def test_a_binary_baseline_becomes_a_two_row_head_that_gives_the_same_probabilities():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(int)
    baseline = LogisticRegression().fit(x, y)
    weight, bias = report.head_from_baseline(baseline, 2, 4)
    assert weight.shape == (2, 4)
    assert np.allclose(report.softmax(x @ weight.T + bias), baseline.predict_proba(x))
    metrics = report.classification_metrics(y, baseline.predict_proba(x), ["no", "yes"])
    from sklearn.metrics import roc_auc_score

    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, baseline.predict_proba(x)[:, 1]))


def test_length_bucketed_batches_cover_every_row_once_an_epoch_repeat_on_resume_and_pad_less(settings):
    from pathlib import Path

    from inference.registry import EMBEDDING_MODEL_ID, model_path
    from inference.training.classifier.model import new_classifier
    from inference.training.classifier.trainer import ClassifierTrainer
    from products.training.hyperparameters import classifier_defaults_for

    rng = np.random.default_rng(0)
    ids = [[101] + [7] * int(n) + [102] for n in rng.integers(1, 60, size=900)]  # 900 rows of mixed lengths
    params = classifier_defaults_for(train_examples=len(ids), device="cpu")
    model = new_classifier(model_path(Path(settings.MODELS_DIR), EMBEDDING_MODEL_ID), 2, seed=0)

    def trainer():
        return ClassifierTrainer(model, ids, [i % 2 for i in range(len(ids))], num_labels=2, params=params,
                                 device="cpu", pad_id=0)

    first, resumed = trainer(), trainer()
    epoch = [first.batch(step) for step in range(first.steps_per_epoch)]
    assert sorted(i for batch in epoch for i in batch) == list(range(len(ids)))
    assert resumed.batch(first.steps_per_epoch + 3) == first.batch(first.steps_per_epoch + 3)  # a pure function
    assert first.batch(0) != first.batch(first.steps_per_epoch)  # each epoch its own order

    def padded(batches):
        return sum(max(len(ids[i]) for i in batch) * len(batch) for batch in batches)

    unsorted = np.random.default_rng(0).permutation(len(ids)).tolist()
    random_batches = [unsorted[i:i + params.batch_size] for i in range(0, len(ids), params.batch_size)]
    assert padded(epoch) < 0.7 * padded(random_batches)


def test_a_training_step_leaves_the_word_embeddings_as_loaded_and_moves_the_layers_and_the_head(settings):
    from pathlib import Path

    import torch

    from inference.registry import EMBEDDING_MODEL_ID, model_path
    from inference.training.classifier.model import new_classifier
    from inference.training.classifier.trainer import ClassifierTrainer
    from products.training.hyperparameters import classifier_defaults_for

    model = new_classifier(model_path(Path(settings.MODELS_DIR), EMBEDDING_MODEL_ID), 2, seed=0)
    words = model.encoder.get_input_embeddings().weight.detach().clone()
    layer = model.encoder.encoder.layer[0].attention.self.query.weight.detach().clone()
    head = model.head.weight.detach().clone()
    ids = [[101, 2023 + i, 2003, 102] for i in range(16)]
    trainer = ClassifierTrainer(model, ids, [i % 2 for i in range(16)], num_labels=2, device="cpu", pad_id=0,
                                params=classifier_defaults_for(train_examples=16, device="cpu"), top_layers=None)
    trainer.train_step(0)
    trainer.train_step(1)

    assert torch.equal(model.encoder.get_input_embeddings().weight, words)
    assert not torch.equal(model.encoder.encoder.layer[0].attention.self.query.weight, layer)
    assert not torch.equal(model.head.weight, head)


def test_training_only_the_top_layers_keeps_the_lower_ones_and_a_checkpoint_resumes_where_it_left_off(
    settings, tmp_path
):
    from pathlib import Path

    import torch

    from inference.registry import EMBEDDING_MODEL_ID, model_path
    from inference.training.classifier.model import new_classifier
    from inference.training.classifier.trainer import ClassifierTrainer
    from products.training.hyperparameters import classifier_defaults_for

    folder = model_path(Path(settings.MODELS_DIR), EMBEDDING_MODEL_ID)
    ids = [[101] + [2023 + i] * (1 + i % 5) + [2003, 102] for i in range(16)]
    params = classifier_defaults_for(train_examples=16, device="cpu")

    def trainer(top_layers):
        model = new_classifier(folder, 2, seed=0)
        return ClassifierTrainer(model, ids, [i % 2 for i in range(16)], num_labels=2, device="cpu", pad_id=0,
                                 params=params, top_layers=top_layers)

    first = trainer(2)
    lower = first.model.encoder.encoder.layer[3].output.dense.weight.detach().clone()
    top = first.model.encoder.encoder.layer[4].output.dense.weight.detach().clone()
    first.train_step(0)
    first.train_step(1)  # the next epoch: its batches' lower states come from the first epoch's
    assert torch.equal(first.model.encoder.encoder.layer[3].output.dense.weight, lower)
    assert not torch.equal(first.model.encoder.encoder.layer[4].output.dense.weight, top)
    first.save_state(tmp_path, step=2, best=None, extra={})
    expected = first.train_step(2).loss

    resumed = trainer(2)
    resumed.load_state(tmp_path)  # its lower states are computed again, never read from the checkpoint
    assert resumed.train_step(2).loss == pytest.approx(expected, rel=1e-5)

    everything = trainer(None)
    everything.save_state(tmp_path, step=2, best=None, extra={})
    older = trainer(2)
    older.load_state(tmp_path)  # a run begun training every layer goes on training every layer
    assert older.frozen_layers == 0
    older.train_step(2)


@pytest.mark.parametrize("native", [True, False])
def test_training_runs_in_bf16_only_where_the_cpu_has_it_keeps_fp32_weights_and_still_learns(
    settings, monkeypatch, native
):
    from dataclasses import replace
    from pathlib import Path

    import torch

    from inference.registry import EMBEDDING_MODEL_ID, model_path
    from inference.training.classifier.model import logits_of, new_classifier
    from inference.training.classifier.trainer import ClassifierTrainer
    from products.training.hyperparameters import classifier_defaults_for

    if native and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("this CPU has no native bf16 (AVX512-BF16/AMX)")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    # "good …" texts are label 0, "bad …" texts label 1; the head starts at random, so only training separates them.
    ids = [[101, 2204 if i % 2 == 0 else 2919] + [2023 + i % 7] * (1 + i % 4) + [102] for i in range(32)]
    y = [i % 2 for i in range(32)]
    params = replace(classifier_defaults_for(train_examples=32, device="cpu"), learning_rate=1e-3, epochs=6)
    trainer = ClassifierTrainer(new_classifier(model_path(Path(settings.MODELS_DIR), EMBEDDING_MODEL_ID), 2, seed=0),
                                ids, y, num_labels=2, device="cpu", pad_id=0, params=params)
    assert trainer.bf16 is native
    losses = [trainer.train_step(step).loss for step in range(trainer.total_steps)]
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # master weights stay fp32
    assert np.mean(losses[-2:]) < 0.5 * np.mean(losses[:2]), losses
    predicted = logits_of(trainer.model, ids, batch_size=32, pad_id=0, device="cpu").argmax(1).tolist()
    assert predicted == y
