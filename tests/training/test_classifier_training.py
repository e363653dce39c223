"""The classifier training method: what it refuses before training, its report's arithmetic, and a SIGKILLed run.

The full journey (train on real MiniLM → report → version → classify over every transport) is
tests/products/test_classification_kind.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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
from tests.processes import ROOT, process_env
from tests.training.classifier_fixtures import TINY_CLASSIFIER, sample_rows

pytestmark = pytest.mark.django_db(transaction=True)

GUARD_S = 300  # how long a wait may last before the test gives up on a hung worker (not a measurement)


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


@pytest.fixture
def worker_process(media_root):
    """``manage.py training_worker`` in its own process with a 3-second lease, as in production."""
    processes = []

    def start() -> subprocess.Popen:
        env = process_env(MEDIA_ROOT=str(media_root), STUDIO_TRAINING_LEASE_S="3", STUDIO_TRAINING_POLL_S="1",
                          STUDIO_DEVICE="cpu")
        process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "training_worker"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _wait_for(condition, what: str):
    deadline = time.monotonic() + GUARD_S
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"Gave up waiting for {what}.")
        time.sleep(0.05)
    return value


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
