"""Training runs as jobs, without a model: starting, claiming, leases, retries, cancelling, live events."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone

from inference.models import TrainingRun
from inference.training import services as worker
from products.training import services
from products.training.events import run_group_name
from tests.training.conftest import ROWS

pytestmark = pytest.mark.django_db(transaction=True)


def _expire(run: TrainingRun) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_new_run_is_queued_with_defaults_from_the_dataset_size_and_the_products_prompt(shop, make_dataset_version):
    _, owner, product = shop
    version = make_dataset_version()
    run = services.training_run_create(product=product, dataset_version=version, user=owner)
    assert (run.status, run.team_id, run.base_model, run.method) == (
        "queued", product.team_id, product.base_model, "lora")
    assert (run.train_examples, run.validation_examples) == (11, 1)
    assert run.hyperparameters["epochs"] == 4 and run.hyperparameters["batch_size"] == 4
    assert run.total_steps == 12  # ceil(11 / 4) × 4 epochs
    assert run.prompt_config == {"system_prompt": product.system_prompt, "prompt_template": product.prompt_template,
                                 "input_schema": product.input_schema}
    assert [e.message for e in run.log_entries.all()] == [
        f"Queued by {owner.email}: Descriptions v1, 4 epochs, batch size 4."
    ]


def test_fewer_than_ten_training_examples_are_refused_with_the_minimum_named(shop, make_dataset_version):
    _, owner, product = shop
    version = make_dataset_version(ROWS[:10])  # 10 rows, 1 held out: 9 to train on
    with pytest.raises(ValidationError) as caught:
        services.training_run_create(product=product, dataset_version=version, user=owner)
    assert caught.value.message_dict == {"dataset_version": [
        "This dataset version has 9 training examples; fine-tuning needs at least 10. Add rows to the dataset "
        "(or hold fewer rows out for validation) and try again."
    ]}
    assert not TrainingRun.objects.exists()


def test_out_of_range_advanced_settings_are_refused_and_nothing_is_queued(shop, make_dataset_version):
    _, owner, product = shop
    with pytest.raises(ValidationError) as caught:
        services.training_run_create(product=product, dataset_version=make_dataset_version(), user=owner,
                                     overrides={"batch_size": 0})
    assert caught.value.message_dict == {"batch_size": ["Batch size must be between 1 and 256."]}
    assert not TrainingRun.objects.exists()


def test_a_dataset_version_of_another_team_cannot_be_trained_on(shop, make_dataset_version, make_team):
    _, owner, product = shop
    other = make_team("Other")
    version = make_dataset_version(team=other, user=other.memberships.get().user)
    with pytest.raises(ValidationError, match="Choose a dataset version of this team."):
        services.training_run_create(product=product, dataset_version=version, user=owner)


def test_the_oldest_queued_run_is_claimed_and_leased_to_the_worker(make_run):
    first, second = make_run(), make_run()
    claimed = worker.training_run_claim(worker="w1", lease_seconds=60)
    assert claimed.pk == first.pk
    first.refresh_from_db()
    assert (first.status, first.worker, first.attempts) == ("running", "w1", 1)
    assert first.lease_expires_at > timezone.now() and first.started_at is not None
    assert worker.training_run_claim(worker="w2", lease_seconds=60).pk == second.pk
    assert worker.training_run_claim(worker="w3", lease_seconds=60) is None


def test_workers_claiming_at_the_same_moment_get_distinct_runs(make_run):
    runs = {make_run().pk for _ in range(4)}
    start = threading.Barrier(4)
    claimed: dict[str, int | None] = {}

    def claim(name: str) -> None:
        try:
            start.wait()
            run = worker.training_run_claim(worker=name, lease_seconds=60)
            claimed[name] = run and run.pk
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed.values()) == sorted(runs)
    assert {run.worker for run in TrainingRun.objects.all()} == set(claimed)


def test_a_claim_skips_the_run_another_worker_has_locked_instead_of_waiting_for_it(make_run):
    if connections["default"].vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL (SQLite serialises writers instead).")
    first, second = make_run(), make_run()
    locked, other_done = threading.Event(), threading.Event()
    results: dict[str, int] = {}

    def slow_worker() -> None:
        try:
            with transaction.atomic():  # holds the row lock of its claim until the other worker is done
                results["a"] = worker.training_run_claim(worker="a", lease_seconds=60).pk
                locked.set()
                other_done.wait(timeout=60)  # a guard against a hang, not a measurement
        finally:
            connection.close()

    thread = threading.Thread(target=slow_worker)
    thread.start()
    locked.wait(timeout=60)
    results["b"] = worker.training_run_claim(worker="b", lease_seconds=60).pk
    done_before_first_commit = thread.is_alive()
    other_done.set()
    thread.join()
    assert results == {"a": first.pk, "b": second.pk}
    assert done_before_first_commit  # b did not wait for a's transaction


def test_an_expired_lease_puts_the_run_back_in_the_queue_to_resume_from_its_checkpoint(make_run):
    run = make_run()
    worker.training_run_claim(worker="lost", lease_seconds=60)
    TrainingRun.objects.filter(pk=run.pk).update(checkpoint_step=4)
    assert worker.training_runs_requeue_expired() == []  # lease still valid
    _expire(run)
    assert [r.pk for r in worker.training_runs_requeue_expired()] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.worker, run.attempts) == ("queued", "", 1)
    assert run.log_entries.last().message == (
        "The worker stopped responding; the run is queued again and will resume from step 4."
    )
    assert not worker.training_run_heartbeat(run_id=run.pk, worker="lost")
    assert worker.training_run_claim(worker="next").attempts == 2


def test_a_run_whose_worker_keeps_dying_fails_after_the_last_attempt_with_the_reason(make_run, settings):
    settings.TRAINING_MAX_ATTEMPTS = 2
    run = make_run()
    for _ in range(2):
        worker.training_run_claim(worker="doomed", lease_seconds=60)
        _expire(run)
        worker.training_runs_requeue_expired()
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 2)
    assert run.error == (
        "The training worker was lost (its machine stopped, restarted or ran out of memory) and the run was "
        "retried 1 time, then given up. Start it again; if it keeps stopping, try a smaller batch size under "
        "“Advanced settings”."
    )
    assert run.finished_at is not None
    assert (run.log_entries.last().level, run.log_entries.last().message) == ("error", run.error)


def test_a_worker_that_lost_its_lease_can_no_longer_write_progress(make_run):
    run = make_run()
    worker.training_run_claim(worker="old", lease_seconds=60)
    _expire(run)
    worker.training_runs_requeue_expired()
    worker.training_run_claim(worker="new", lease_seconds=60)
    assert worker.training_run_progress_record(
        run_id=run.pk, worker="old", step=3, train_loss=1.0, tokens_seen=10, seconds_per_step=1.0, points=[]
    ) is None
    assert worker.training_run_should_stop(run_id=run.pk, worker="old") == (False, True)
    assert worker.training_run_should_stop(run_id=run.pk, worker="new") == (False, False)
    assert TrainingRun.objects.get(pk=run.pk).step == 0


def test_cancelling_a_queued_run_ends_it_at_once_and_a_running_one_after_its_step(make_run, shop):
    _, owner, _ = shop
    queued, running = make_run(), make_run()
    worker.training_run_claim(worker="w", lease_seconds=60)  # takes `queued`, the oldest
    queued, running = running, queued
    services.training_run_cancel(run=queued, user=owner)
    services.training_run_cancel(run=running, user=owner)
    queued.refresh_from_db(), running.refresh_from_db()
    assert (queued.status, queued.finished_at is not None) == ("cancelled", True)
    assert (running.status, running.cancel_requested) == ("running", True)
    assert worker.training_run_should_stop(run_id=running.pk, worker="w") == (True, False)
    with pytest.raises(ValidationError, match=r"already ended \(cancelled\); there is nothing to cancel\."):
        services.training_run_cancel(run=queued, user=owner)


def test_progress_is_saved_then_published_to_the_runs_group_only_once_committed(make_run):
    run = make_run()
    worker.training_run_claim(worker="w", lease_seconds=60)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(run_group_name(run.pk), channel)
    with pytest.raises(RuntimeError), transaction.atomic():
        worker.training_run_progress_record(run_id=run.pk, worker="w", step=1, train_loss=2.5, tokens_seen=80,
                                              seconds_per_step=1.0, points=[("train", 1, 2.5)])
        raise RuntimeError("rolled back: nothing may be published")
    worker.training_run_progress_record(run_id=run.pk, worker="w", step=2, train_loss=2.0, tokens_seen=160,
                                          seconds_per_step=1.0, points=[("train", 2, 2.0)])
    message = async_to_sync(layer.receive)(channel)
    async_to_sync(layer.group_discard)(run_group_name(run.pk), channel)
    assert message["type"] == "training.progress"
    frame = message["frame"]
    assert (frame["event"], frame["status"], frame["step"], frame["points"]) == (
        "progress", "running", 2, [{"split": "train", "step": 2, "loss": 2.0}]
    )
    assert list(run.metrics.values_list("step", "loss")) == [(2, 2.0)]


def test_a_model_a_version_serves_cannot_be_deleted_but_the_whole_team_can(make_run, shop):
    from django.db.models import RestrictedError

    from inference.models import ModelArtifact
    from products.models import DatasetVersion, ProductVersion

    team, owner, _ = shop
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded")
    ModelArtifact.objects.create(team=team, run=run, base_model=run.base_model, path="training/x", sha256="0" * 64,
                                 size_bytes=1)
    services.product_version_create_from_run(run=run, user=owner)
    with pytest.raises(RestrictedError):
        ModelArtifact.objects.get().delete()
    with pytest.raises(RestrictedError):
        DatasetVersion.objects.get().delete()
    team.delete()
    assert not (TrainingRun.objects.exists() or ModelArtifact.objects.exists() or ProductVersion.objects.exists())
